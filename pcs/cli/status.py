"""`pcs status` (stored power state) and `pcs queue` (who holds and who waits per component)."""
from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Optional

import typer

from pcs.cli.common import DEFAULT, Json, Token, Url, api, out
from pcs.cli.render import components
from pcs.cli.tables import queue_table, status_groups_table, status_table
from pcs.cli.targets import expand_targets, fold

Targets = Annotated[Optional[list[str]], typer.Argument(
    help="xnames, hostlist ranges or @file; none: every component.", show_default=False)]


class PowerState(str, Enum):
    on = "on"
    off = "off"
    undefined = "undefined"


class ManagementState(str, Enum):
    available = "available"
    unavailable = "unavailable"


def status(
    targets: Targets = None,
    power_state: Annotated[Optional[PowerState], typer.Option(
        "--power-state", "-p", show_default=False, help="Only components in this state.")] = None,
    management_state: Annotated[Optional[ManagementState], typer.Option(
        "--management-state", "-m", show_default=False,
        help="Only components whose BMC is (un)available.")] = None,
    summary: Annotated[bool, typer.Option(
        "--summary", "-s", help="One row per state and error, xnames as ranges.")] = False,
    as_json: Json = False, url: Url = DEFAULT, token: Token = None,
):
    """Power status of components, as the background sweep and confirmations stored it."""
    with api(url, token) as client:
        names = expand_targets(targets or [])
        found = client.power_status(names, power_state.value if power_state else "",
                                    management_state.value if management_state else "")
    if as_json:
        typer.echo(json.dumps({"status": found}, indent=2))
        return
    console = out()
    console.print(status_groups_table(found) if summary else status_table(found))
    by_state: dict[str, int] = {}
    for s in found:
        by_state[s["powerState"] or "unknown"] = by_state.get(s["powerState"] or "unknown", 0) + 1
    states = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items()))
    console.print(components(len(found)) + (f": {states}" if states else ""), markup=False)


def queue(targets: Targets = None, as_json: Json = False, url: Url = DEFAULT,
          token: Token = None):
    """Per component with work: the active task and the transitions queued behind it."""
    with api(url, token) as client:
        names = expand_targets(targets or [])
        # The server expands ranges itself: send them folded, so the URL stays short.
        queues = client.queues(fold(names) if names else None)
    if as_json:
        typer.echo(json.dumps({"queues": queues}, indent=2))
        return
    console = out()
    if not queues:
        console.print("no component has active or queued work")
        return
    console.print(queue_table(queues))
