"""`pcs cap show|set|off TARGETS`: read or set node power limits and wait for the BMCs' answer.

Exit status as for `pcs power`: 0 when every component answered without error, 1 when some did
not, 2 on errors, 130 on Ctrl-C (the power-cap task keeps running)."""
from __future__ import annotations

import json
import time
from contextlib import nullcontext
from typing import Annotated, Optional

import typer
from rich.table import Table

from pcs.cli.common import DEFAULT, Json, Token, Url, api, out
from pcs.cli.client import PcsClient
from pcs.cli.outcome import EXIT_ALL_SUCCEEDED, EXIT_INTERRUPTED, EXIT_SOME_FAILED
from pcs.cli.targets import expand_targets

app = typer.Typer(no_args_is_help=True, help="Node power limits (power capping).")
POLL_S = 0.5

Targets = Annotated[list[str], typer.Argument(
    help="xnames, hostlist ranges (x1000c0s[0-7]b0n[0-1]) or @file.", show_default=False)]


def _targets(targets: list[str]) -> list[str]:
    xnames = expand_targets(targets)
    if not xnames:
        raise typer.BadParameter("no xnames given", param_hint="TARGETS")
    return xnames


def _wait(client: PcsClient, created: dict, what: str, show_progress: bool) -> dict:
    """Poll the power-cap task until completed (power caps have no event stream)."""
    console = out()
    task_id = created["taskID"]
    with console.status(f"{what} {task_id[:8]}", spinner="dots") if show_progress \
            else nullcontext():
        while True:
            body = client.get_power_cap(task_id)
            if body["taskStatus"] == "completed":
                return body
            time.sleep(POLL_S)


def _report(body: dict, as_json: bool) -> int:
    components = body.get("components", [])
    if as_json:
        typer.echo(json.dumps(body))
    else:
        table = Table("xname", "control", "watts", "min", "max", "error", box=None)
        for component in components:
            limits = component.get("powerCapLimits") or [{}]
            for i, limit in enumerate(limits):
                table.add_row(component["xname"] if i == 0 else "", limit.get("name", ""),
                              _watts(limit.get("currentValue")),
                              str(limit.get("minimumValue", "")),
                              str(limit.get("maximumValue", "")),
                              component.get("error", "") if i == 0 else "")
        out().print(table)
    failed = [c for c in components if c.get("error")]
    return EXIT_SOME_FAILED if failed or not components else EXIT_ALL_SUCCEEDED


def _watts(value) -> str:
    if value is None:
        return ""
    return "uncapped" if value == 0 else str(value)


def _run(url: str, token: str | None, as_json: bool, what: str, start) -> None:
    console = out()
    try:
        with api(url, token) as client:
            body = _wait(client, start(client), what, console.is_terminal and not as_json)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(_report(body, as_json))


def _controls(client: PcsClient, xnames: list[str], what: str) -> dict[str, list[str]]:
    """Each node's control names, read by a snapshot."""
    body = _wait(client, client.cap_snapshot(xnames), what, False)
    return {c["xname"]: [lim["name"] for lim in c.get("powerCapLimits", [])]
            for c in body.get("components", [])}


@app.command("show")
def show(targets: Targets, as_json: Json = False, url: Url = DEFAULT, token: Token = None):
    """Read the power limits TARGETS' BMCs hold now (a snapshot)."""
    xnames = _targets(targets)
    _run(url, token, as_json, "reading", lambda client: client.cap_snapshot(xnames))


@app.command("set")
def set_cap(
    targets: Targets,
    watts: Annotated[int, typer.Option("--watts", min=0, show_default=False,
                                       help="The limit in watts (0 removes it).")],
    control: Annotated[Optional[str], typer.Option(
        "--control", show_default=False,
        help="The control to set (default: each node's first, its node limit).")] = None,
    as_json: Json = False, url: Url = DEFAULT, token: Token = None,
):
    """Set a power limit on TARGETS; the result is what the BMCs hold afterwards."""
    xnames = _targets(targets)

    def start(client: PcsClient) -> dict:
        names = ({x: [control] for x in xnames} if control
                 else _controls(client, xnames, "reading controls"))
        # A node without known controls is still sent, so that its reason shows.
        return client.cap_patch({x: {(names.get(x) or ["Node Power Limit"])[0]: watts}
                                 for x in xnames})
    _run(url, token, as_json, f"setting {watts} W", start)


@app.command("off")
def off(targets: Targets, as_json: Json = False, url: Url = DEFAULT, token: Token = None):
    """Remove every power limit of TARGETS (each control set to 0)."""
    xnames = _targets(targets)

    def start(client: PcsClient) -> dict:
        names = _controls(client, xnames, "reading controls")
        return client.cap_patch({x: {n: 0 for n in (names.get(x) or ["Node Power Limit"])}
                                 for x in xnames})
    _run(url, token, as_json, "removing limits", start)
