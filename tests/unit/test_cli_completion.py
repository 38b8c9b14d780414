"""Shell completion of the `pcs` command."""
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pcs.cli.main import cli

runner = CliRunner()


def _complete(words: str, cword: int) -> list[str]:
    result = runner.invoke(cli, [], prog_name="pcs", env={
        "_PCS_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)})
    assert result.exit_code == 0, result.output
    return result.output.split()


def test_commands_and_subcommands_complete():
    assert _complete("pcs tra", 1) == ["transitions"]
    assert set(_complete("pcs transitions ", 2)) >= {"list", "show", "watch", "abort"}


def test_install_completion_writes_the_bash_script(tmp_path):
    # As an operator runs it: from bash, whose process the option detects as the shell.
    pcs = Path(sys.executable).parent / "pcs"
    done = subprocess.run(["bash", "-c", f"'{pcs}' --install-completion"], capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"})
    assert done.returncode == 0, done.stdout + done.stderr
    script = (tmp_path / ".bash_completions" / "pcs.sh").read_text()
    assert "_PCS_COMPLETE=complete_bash" in script
    assert ".bash_completions/pcs.sh" in (tmp_path / ".bashrc").read_text()
