"""What every API command shares: --url/--token, the consoles, and errors as one line + exit 2."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.console import Console

from pcs.cli.client import DEFAULT_URL, ApiError, ApiUnreachable, PcsClient
from pcs.cli.outcome import EXIT_ERROR
from pcs.cli.targets import BadTargets

Url = Annotated[str, typer.Option("--url", envvar="PCS_URL", show_envvar=True,
                                  help="Base URL of the PCS API.")]
Token = Annotated[Optional[str], typer.Option(
    "--token", envvar="PCS_TOKEN", show_envvar=True, show_default=False,
    help="Bearer token for the Authorization header (never printed); @FILE reads it from FILE. "
         "Unset: the file named by PCS_TOKEN_FILE, if any.")]
Json = Annotated[bool, typer.Option("--json", help="Print the server's JSON.")]
DEFAULT = DEFAULT_URL


def out() -> Console:
    """stdout; built per command so that it sees the stream and terminal of this run. Piped,
    lines are not wrapped at 80 columns (tables stay readable in files and greps)."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 200))
    return console


def fail(message: str, code: int = EXIT_ERROR) -> None:
    """One line on stderr, no traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def resolve_token(token: str | None) -> str | None:
    """The token itself: given, read from @FILE, or from the file PCS_TOKEN_FILE names."""
    path = token[1:] if token and token.startswith("@") else (
        None if token else os.environ.get("PCS_TOKEN_FILE"))
    if not path:
        return token
    try:
        return Path(path).expanduser().read_text().strip() or None
    except OSError as exc:
        fail(f"cannot read the token file {path}: {exc.strerror}")


@contextmanager
def api(url: str, token: str | None) -> Iterator[PcsClient]:
    """A client whose failures end the command with one clear line and exit status 2."""
    token = resolve_token(token)
    client = PcsClient(url, token)
    try:
        yield client
    except ApiUnreachable as exc:
        fail(str(exc))
    except ApiError as exc:
        if exc.status == 401:
            fail(f"not authenticated: the server answered {exc}. "
                 + ("Is the token expired or for another service?" if token else
                    "Give a token: --token, PCS_TOKEN or PCS_TOKEN_FILE."))
        if exc.status == 403:
            fail(f"not permitted: the server answered {exc}. Ask for a token with the role "
                 "this needs.")
        fail(f"the server answered {exc}")
    except BadTargets as exc:
        fail(str(exc))
    finally:
        client.close()
