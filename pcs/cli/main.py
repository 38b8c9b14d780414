"""The `pcs` command: run the stack, show settings, migrate, simulate BMCs; and, over the
HTTP API, power components and inspect transitions, status, queues, inventory and locks."""
from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.table import Table

from pcs.cli import cap, inventory, locks, power, status, transitions
from pcs.config import Settings

cli = typer.Typer(no_args_is_help=True,
                  help="Power control service for HPC machines (PCS v1 API).")
console = Console()


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)


@cli.command()
def up(simulate: int = typer.Option(0, help="also simulate N nodes, two per node BMC"),
       sim_port_base: int = typer.Option(29000, help="first port of the simulated BMCs"),
       sim_power_delay: float = typer.Option(1.0, help="seconds a simulated power change takes"),
       smd: bool = typer.Option(False, "--smd", help="with --simulate: run in smd mode against "
                                "the simulator's SMD face (credentials from the fake store, "
                                "or Vault when VAULT_ENABLED=true)")):
    """Start PostgreSQL and Valkey (embedded unless PCS_DATABASE_URL / PCS_BROKER_URL are set),
    apply migrations, and run api, worker, beat and Flower until Ctrl-C or SIGTERM."""
    from pcs.runtime.embedded import EmbeddedServerError
    from pcs.errors import ConfigurationError
    from pcs.runtime.logs import configure_logging
    from pcs.runtime.stack import Stack

    settings = _settings()
    if smd and not simulate:
        console.print("[red]error:[/red] --smd runs against the simulator's SMD face: give "
                      "--simulate N too (for a real SMD, set SMS_SERVER instead)")
        raise typer.Exit(2)
    configure_logging(settings.log_level, settings.log_format, process="up")
    if settings.log_format == "json":   # every line a log line, for the same shipper
        log = logging.getLogger("pcs.up")
        say, fail = log.info, log.error
    else:
        say = lambda m: console.print(m, highlight=False)  # noqa: E731
        fail = lambda m: console.print(f"[red]error:[/red] {m}")  # noqa: E731
    stack = Stack(settings, simulate=simulate, sim_port_base=sim_port_base,
                  sim_power_delay_s=sim_power_delay, smd=smd, say=say)
    try:
        stack.start()
    except (EmbeddedServerError, RuntimeError, ConfigurationError) as exc:
        fail(str(exc))
        raise typer.Exit(1)
    say("pcs is up. Ctrl-C stops everything.")
    raise typer.Exit(stack.run_until_signal())


@cli.command("config")
def show_config():
    """Print the effective settings (secrets masked) and the variable that sets each."""
    settings = _settings()
    console.print(f"inventory: {settings.inventory_source}"
                  + (f" ({settings.sms_server})" if settings.sms_server else
                     " (the registration API)")
                  + f"; credentials: {settings.credential_source}", highlight=False)
    table = Table("variable", "value", "meaning", box=None, pad_edge=False)
    for name, value, meaning in settings.described():
        table.add_row(name, value, meaning)
    Console(width=max(console.width, 140)).print(table)


@cli.command("migrate")
def migrate_command():
    """Apply database migrations to PCS_DATABASE_URL."""
    from pcs.runtime import migrate
    settings = _settings()
    if not settings.database_url:
        console.print("[red]error:[/red] PCS_DATABASE_URL is not set "
                      "('pcs up' migrates its embedded database itself)")
        raise typer.Exit(2)
    migrate.upgrade(settings.database_url)
    console.print("database schema is up to date")


@cli.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []})
def simulate(ctx: typer.Context):
    """Serve a fleet of Redfish BMCs on 127.0.0.1 for demos, tests and benchmarks, and with
    --smd-port an SMD (HSM v2) face of it (`pcs simulate --help` lists its options)."""
    from pcs.simulator.__main__ import main as simulator_main

    raise typer.Exit(simulator_main(list(ctx.args)) or 0)


secrets_app = typer.Typer(no_args_is_help=True, help="The key that encrypts BMC passwords.")


@secrets_app.command("rotate")
def rotate_secret():
    """Re-encrypt every stored BMC password under a new key. With the key file in the state
    directory the new key is made here and the old one dropped once all are done; with
    PCS_SECRET_KEY, set it to NEW,OLD on every pcs process first."""
    from pcs.db import Database
    from pcs.runtime.embedded import postgres_url
    from pcs.errors import ConfigurationError
    from pcs.inventory.credentials import rotate_keys

    settings = _settings()
    try:
        url = settings.database_url or postgres_url(settings.state_path,
                                                    settings.embedded_pg_port)
    except OSError:
        console.print("[red]error:[/red] no PCS_DATABASE_URL and no embedded PostgreSQL in "
                      f"{settings.state_path} (start it with 'pcs up')")
        raise typer.Exit(2)
    database = Database(url, pool_size=1)
    try:
        count = rotate_keys(settings, database)
    except ConfigurationError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    finally:
        database.dispose()
    console.print(f"{count} BMC passwords re-encrypted under the new key")
    if settings.secret_key:
        console.print("now remove the old keys from PCS_SECRET_KEY and restart every process")


cli.add_typer(secrets_app, name="secrets")
cli.command("power")(power.power)
cli.add_typer(cap.app, name="cap")
cli.add_typer(transitions.app, name="transitions")
cli.command("status")(status.status)
cli.command("queue")(status.queue)
cli.add_typer(inventory.app, name="inventory")
cli.add_typer(locks.app, name="locks")


def main() -> None:
    cli(prog_name="pcs")


if __name__ == "__main__":
    sys.exit(main())
