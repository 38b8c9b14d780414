"""`pcs inventory add-bmc|list|remove`: the BMCs this service drives, and their components."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from pcs.cli.common import DEFAULT, Json, Token, Url, api, fail, out
from pcs.cli.tables import bmcs_table, components_table
from pcs.cli.targets import expand_targets, fold

app = typer.Typer(no_args_is_help=True, help="BMCs and the components discovered behind them.")


@app.command("add-bmc")
def add_bmc(
    xname: Annotated[str, typer.Argument(help="The BMC's xname (x3000c0s5b0).",
                                         show_default=False)],
    address: Annotated[str, typer.Argument(help="host or host:port of its Redfish service.",
                                           show_default=False)],
    username: Annotated[str, typer.Option("--username", "-u")] = "root",
    password: Annotated[str, typer.Option(
        "--password", envvar="PCS_BMC_PASSWORD", show_envvar=True, prompt=True,
        hide_input=True, show_default=False, help="Asked for when not given.")] = ...,
    scheme: Annotated[str, typer.Option(help="http or https.")] = "https",
    verify_tls: Annotated[bool, typer.Option("--verify-tls/--no-verify-tls")] = True,
    system: Annotated[Optional[list[str]], typer.Option(
        "--system", show_default=False,
        help="NODE=PATH: name a ComputerSystem explicitly (repeatable), e.g. "
             "x3000c0s5b0n0=/redfish/v1/Systems/abc.")] = None,
    as_json: Json = False, url: Url = DEFAULT, token: Token = None,
):
    """Register a BMC: the server discovers its systems over Redfish before storing it."""
    body = {"xname": xname, "address": address, "scheme": scheme, "username": username,
            "password": password, "verifyTls": verify_tls}
    if system:
        pairs = [s.partition("=") for s in system]
        if any(not node or not path for node, _, path in pairs):
            fail("--system takes NODE=PATH")
        body["systems"] = {node: path for node, _, path in pairs}
    with api(url, token) as client:
        bmc = client.add_bmc(body)
    if as_json:
        typer.echo(json.dumps(bmc, indent=2))
        return
    typer.echo(f"registered {bmc['xname']} at {bmc['address']}: "
               f"{fold(bmc.get('components') or []) or 'no components'}")


@app.command("list")
def list_inventory(
    components: Annotated[bool, typer.Option(
        "--components", "-c", help="Components (with power state and last poll) instead of "
                                   "BMCs.")] = False,
    as_json: Json = False, url: Url = DEFAULT, token: Token = None,
):
    """Registered BMCs (credentials are never shown), or their components."""
    with api(url, token) as client:
        rows = client.list_components() if components else client.list_bmcs()
    if as_json:
        typer.echo(json.dumps({"components" if components else "bmcs": rows}, indent=2))
        return
    console = out()
    console.print(components_table(rows) if components else bmcs_table(rows))


@app.command()
def remove(targets: Annotated[list[str], typer.Argument(
               help="BMC xnames or ranges (x1000c0s[0-7]b0).", show_default=False)],
           url: Url = DEFAULT, token: Token = None):
    """Remove BMCs and their components (refused while they have unfinished tasks)."""
    with api(url, token) as client:
        names = expand_targets(targets)
        for name in names:
            client.remove_bmc(name)
    typer.echo(f"removed {len(names)}: {fold(names)}")
