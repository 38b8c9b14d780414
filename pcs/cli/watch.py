"""Watch one transition to its end and report: the shared tail of `pcs power` and
`pcs transitions watch`."""
from __future__ import annotations

import json

import typer
from rich.console import Console

from pcs.cli.client import PcsClient
from pcs.cli.follow import StreamLost, follow
from pcs.cli.outcome import EXIT_ERROR, EXIT_INTERRUPTED, exit_status
from pcs.cli.render import make_sink, print_summary, result_document


def watch_and_report(client: PcsClient, transition_id: str, view: str, console: Console,
                     title: str, since: int | None = None, header: str | None = None) -> int:
    """Print `header`, follow the transition, print the summary (or the JSON document), and
    return the exit status: 0 only if every component succeeded. Ctrl-C leaves the
    transition running."""
    try:
        if header:   # inside the try: a Ctrl-C right after it still says how to come back
            console.print(header, soft_wrap=True, markup=False)
        with make_sink(view, console, title) as sink:
            follow(client, transition_id, sink, since=since)
        detail = client.get_transition(transition_id)   # the tasks, for failures by error
    except KeyboardInterrupt:
        typer.echo(f"\nTransition {transition_id} keeps running; watch it again with: "
                   f"pcs transitions watch {transition_id}", err=True)
        return EXIT_INTERRUPTED
    except StreamLost as exc:
        typer.echo(f"error: lost the event stream ({exc}). Transition {transition_id} keeps "
                   f"running; watch it again with: pcs transitions watch {transition_id}",
                   err=True)
        return EXIT_ERROR
    if view == "json":
        typer.echo(json.dumps(result_document(detail), indent=2))
    else:
        print_summary(console, detail)
    return exit_status(detail["taskCounts"])
