"""`pcs power OPERATION TARGETS...`: start a transition and, by default, watch it to its end."""
from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Optional

import typer

from pcs.cli.common import DEFAULT, Token, Url, api, out
from pcs.cli.render import choose_view, components
from pcs.cli.targets import expand_targets
from pcs.cli.watch import watch_and_report
from pcs.domain.operations import Operation

# on, off, soft-off, force-off, soft-restart, hard-restart, init: the API's names, lower case.
PowerOperation = Enum("PowerOperation", {op.name: op.value.lower() for op in Operation},
                      type=str)


class OnConflict(str, Enum):
    queue = "queue"
    fail = "fail"


def power(
    operation: Annotated[PowerOperation, typer.Argument(help="What to do.",
                                                        show_default=False)],
    targets: Annotated[list[str], typer.Argument(
        help="xnames, hostlist ranges (x1000c0s[0-7]b0n[0-1]) or @file (one or more per "
             "line, # comments; @- reads stdin).", show_default=False)],
    deadline: Annotated[Optional[int], typer.Option(
        "--deadline", min=-1, show_default=False,
        help="taskDeadlineMinutes: minutes each action may take (server default 5; "
             "-1 none; 0 do not confirm).")] = None,
    on_conflict: Annotated[Optional[OnConflict], typer.Option(
        "--on-conflict", show_default=False,
        help="Components busy with another transition: wait in their queue (server "
             "default) or fail at once.")] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait",
                                          help="Print the transition ID and return.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document at the end.")] = False,
    plain: Annotated[bool, typer.Option("--plain", help="One line per finished component, "
                                        "no animation (the default when piped).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary.")] = False,
    url: Url = DEFAULT,
    token: Token = None,
):
    """Power TARGETS on, off or through a restart; wait and show progress. Exit status 0 only
    if every component succeeded, 1 if some did not, 2 on errors, 130 on Ctrl-C (the
    transition keeps running)."""
    console = out()
    with api(url, token) as client:
        xnames = expand_targets(targets)
        if not xnames:
            raise typer.BadParameter("no xnames given", param_hint="TARGETS")
        created = client.create_transition(operation.value, xnames, deadline,
                                           on_conflict.value if on_conflict else None)
        transition_id = created["transitionID"]
        if no_wait:
            typer.echo(json.dumps(created) if as_json else transition_id)
            return
        view = choose_view(console.is_terminal, plain, quiet, as_json)
        header = (f"Transition {transition_id}: {created['operation']} of "
                  f"{components(len(xnames))}") if view == "plain" else None
        code = watch_and_report(client, transition_id, view, console,
                                f"{created['operation']} {transition_id[:8]}", header=header)
    raise typer.Exit(code)
