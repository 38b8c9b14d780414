"""`pcs locks list|add|remove`: administrator locks; work for a locked component fails at once."""
from __future__ import annotations

import json
from typing import Annotated

import typer

from pcs.cli.common import DEFAULT, Json, Token, Url, api, out
from pcs.cli.tables import locks_table
from pcs.cli.targets import expand_targets, fold

app = typer.Typer(no_args_is_help=True, help="Administrator locks on components.")

Targets = Annotated[list[str], typer.Argument(help="xnames, hostlist ranges or @file.",
                                              show_default=False)]


@app.command("list")
def list_locks(as_json: Json = False, url: Url = DEFAULT, token: Token = None):
    """Every lock, with its reason and who set it."""
    with api(url, token) as client:
        locks = client.list_locks()
    if as_json:
        typer.echo(json.dumps({"locks": locks}, indent=2))
        return
    console = out()
    console.print(locks_table(locks) if locks else "no locks")


@app.command()
def add(targets: Targets,
        reason: Annotated[str, typer.Option("--reason", "-r",
                                            help="Why (shown to whoever is refused).")] = "",
        url: Url = DEFAULT, token: Token = None):
    """Lock components: transitions for them fail with `Unable to reserve component`."""
    with api(url, token) as client:
        added = client.add_locks(expand_targets(targets), reason)
    typer.echo(f"locked {len(added)}: {fold([lock['xname'] for lock in added])}")


@app.command()
def remove(targets: Targets, url: Url = DEFAULT, token: Token = None):
    """Unlock components."""
    with api(url, token) as client:
        names = expand_targets(targets)
        for name in names:
            client.remove_lock(name)
    typer.echo(f"unlocked {len(names)}: {fold(names)}")
