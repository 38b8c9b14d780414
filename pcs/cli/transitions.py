"""`pcs transitions list|show|watch|abort`."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from pcs.cli.common import DEFAULT, Json, Token, Url, api, out
from pcs.cli.render import choose_view, components
from pcs.cli.tables import task_groups_table, tasks_table, transitions_table
from pcs.cli.watch import watch_and_report

app = typer.Typer(no_args_is_help=True, help="List, inspect, watch and abort transitions.")

TransitionId = Annotated[str, typer.Argument(help="The transition ID.", show_default=False)]


@app.command("list")
def list_transitions(
    limit: Annotated[int, typer.Option(help="Show the newest N (0: all).")] = 50,
    as_json: Json = False, url: Url = DEFAULT, token: Token = None,
):
    """Transitions, oldest first, with their task counts."""
    with api(url, token) as client:
        transitions = client.list_transitions()
    if limit:
        transitions = transitions[-limit:]
    if as_json:
        typer.echo(json.dumps({"transitions": transitions}, indent=2))
        return
    out().print(transitions_table(transitions))


@app.command()
def show(
    transition_id: TransitionId,
    tasks: Annotated[bool, typer.Option("--tasks", help="One row per task.")] = False,
    as_json: Json = False, url: Url = DEFAULT, token: Token = None,
):
    """A transition: its status, and its tasks grouped by outcome with xnames as ranges."""
    with api(url, token) as client:
        detail = client.get_transition(transition_id)
    if as_json:
        typer.echo(json.dumps(detail, indent=2))
        return
    console = out()
    counts = detail["taskCounts"]
    console.print(f"Transition {detail['transitionID']} ({detail['operation']}): "
                  f"{detail['transitionStatus']}; created {detail['createTime']}, "
                  f"{components(counts['total'])}", soft_wrap=True, markup=False)
    console.print(tasks_table(detail["tasks"]) if tasks else task_groups_table(detail["tasks"]))


@app.command()
def watch(
    transition_id: TransitionId,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document at the end.")] = False,
    plain: Annotated[bool, typer.Option("--plain", help="One line per finished component, "
                                        "no animation (the default when piped).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary.")] = False,
    since_event: Annotated[Optional[int], typer.Option(
        "--since-event", hidden=True, help="Resume after this event id (Last-Event-ID).")] = None,
    url: Url = DEFAULT, token: Token = None,
):
    """Follow a transition to its end (its history first), then summarize. Exit status as
    for `pcs power`."""
    console = out()
    with api(url, token) as client:
        view = choose_view(console.is_terminal, plain, quiet, as_json)
        header = f"Watching transition {transition_id}" if view == "plain" else None
        code = watch_and_report(client, transition_id, view, console, transition_id[:8],
                                since=since_event, header=header)
    raise typer.Exit(code)


@app.command()
def abort(transition_id: TransitionId, url: Url = DEFAULT, token: Token = None):
    """Abort a transition: tasks not yet sent are never sent; actions already sent stand."""
    with api(url, token) as client:
        answer = client.abort_transition(transition_id)
    typer.echo(f"{transition_id}: {answer.get('abortStatus', 'abort requested')}")
