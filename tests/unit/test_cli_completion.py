"""Shell completion of the `pcs` command."""
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
    result = runner.invoke(cli, ["--install-completion", "bash"], prog_name="pcs",
                           env={"HOME": str(tmp_path), "SHELL": "/bin/bash"})
    assert result.exit_code == 0, result.output
    script = (tmp_path / ".bash_completions" / "pcs.sh").read_text()
    assert "_PCS_COMPLETE=complete_bash" in script
    assert ".bash_completions/pcs.sh" in (tmp_path / ".bashrc").read_text()
