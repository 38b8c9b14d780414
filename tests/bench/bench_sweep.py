"""`make bench`, part three: one power-status sweep of 10,000 simulated components behind 2,500
BMCs (four nodes each), the way beat runs it every PCS_POWER_SAMPLE_INTERVAL (30 s)."""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# benchlib beside this file, harness one level up (tests/)
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from benchlib import machine, report  # noqa: E402
from harness import Simulator, answers, migrated_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bmcs", type=int, default=2500)
    parser.add_argument("--nodes-per-bmc", type=int, default=4)
    parser.add_argument("--output", default="bench-sweep-results.json")
    args = parser.parse_args()
    if not answers("127.0.0.1", 5432):
        print("needs PostgreSQL on 127.0.0.1:5432")
        return 2
    from pcs import monitor
    from pcs.config import Settings
    from pcs.db import Database
    from pcs.domain import xnames
    from pcs.inventory import store
    from pcs.inventory.credentials import CredentialStore
    from pcs.inventory.discovery import discover
    from pcs.redfish.client import RedfishClient
    from pcs.sources.credentials import LocalCredentials
    credentials = CredentialStore("bench")
    with migrated_database("postgresql://postgres@127.0.0.1:5432/postgres",
                           "pcs_bench_sweep") as database:
        sim = Simulator(bmcs=args.bmcs, nodes_per_bmc=args.nodes_per_bmc, power_delay_s=0.0)
        settings = Settings(database_url=database, broker_url="redis://127.0.0.1:6379/0",
                            secret_key="bench")
        db = Database(database, pool_size=8)
        try:
            def register(i: int) -> None:
                body = sim.bmc_body(i)
                reg = store.BmcRegistration(body["xname"], body["address"], "http", "root",
                                            sim.password, False)
                client = RedfishClient(reg.bmc_address())
                try:
                    found = discover(client, xnames.parse(reg.xname))
                finally:
                    client.close()
                with db.transaction() as session:
                    store.add_bmc(session, reg, found, credentials)
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(register, range(args.bmcs)))
            source = LocalCredentials(credentials)
            first = monitor.sweep(settings, db, source)
            second = monitor.sweep(settings, db, source)
        finally:
            db.dispose()
            sim.stop()
    results = {"machine": machine(), "bmcs": second["bmcs"], "components": second["components"],
               "sweep_concurrency": settings.status_sweep_concurrency,
               "first_sweep_s": first["seconds"], "second_sweep_s": second["seconds"],
               "interval_s": settings.power_sample_interval_s}
    report(results, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
