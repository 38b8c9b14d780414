"""Standalone fleet of simulated Redfish BMCs (one process, one port per BMC).

Imports nothing from the rest of ``pcs``.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional, Sequence, Tuple

from .fleet import Fleet, bmc_xname

__all__ = ["serve", "serve_fleet", "bmc_xname", "Fleet"]


def serve(bmcs: int, nodes_per_bmc: int = 2, port_base: int = 30000, host: str = "127.0.0.1",
          power_delay_s: float = 0.0, initial_state: str = "off", username: str = "root",
          password: str = "initial0", admin_port: Optional[int] = None,
          inventory_file: Optional[str] = None, register_url: Optional[str] = None,
          chassis_bmcs: bool = False, bmc_boot_delay_s: float = 0.0,
          reset_types: Optional[Sequence[str]] = None, pdus: int = 0,
          outlets_per_pdu: int = 4, switches: int = 0,
          faults: Sequence[Tuple[str, Dict[str, Any]]] = (), smd_port: Optional[int] = None,
          smd_minute_s: float = 60.0) -> None:
    """Run until SIGINT/SIGTERM. Blocks.

    ``chassis_bmcs`` adds one chassis BMC per chassis (ports after the node BMCs) with
    Enclosure/Blade power coupled to the node BMCs; ``bmc_boot_delay_s`` is how long a BMC
    stays unreachable after a Manager reset or its slot powering on; ``reset_types``
    replaces the ResetType AllowableValues of every node BMC's systems. ``pdus`` cabinet PDU
    controllers (x3000m<j>, ``outlets_per_pdu`` outlets each) and then ``switches``
    management switches (x3000c0w<k+1>) follow on the next ports. ``faults`` are
    (target, spec) pairs installed before listening (see ``faults``; FleetError if invalid).
    ``smd_port`` also serves the fleet's SMD face there (``smd``), whose reservations count
    minutes of ``smd_minute_s`` seconds.
    """
    fleet = Fleet(bmcs, nodes_per_bmc=nodes_per_bmc, port_base=port_base,
                  power_delay_s=power_delay_s, initial_state=initial_state,
                  chassis_bmcs=chassis_bmcs, bmc_boot_delay_s=bmc_boot_delay_s,
                  reset_types=reset_types, pdus=pdus, outlets_per_pdu=outlets_per_pdu,
                  switches=switches)
    for target, spec in faults:
        fleet.set_fault_target(target, spec)
    serve_fleet(fleet, host, username, password, admin_port, inventory_file, register_url,
                smd_port, smd_minute_s)


def serve_fleet(fleet: Fleet, host: str = "127.0.0.1", username: str = "root",
                password: str = "initial0", admin_port: Optional[int] = None,
                inventory_file: Optional[str] = None,
                register_url: Optional[str] = None, smd_port: Optional[int] = None,
                smd_minute_s: float = 60.0) -> None:
    """Serve an already built fleet (and its SMD face on ``smd_port``, if given) until
    SIGINT/SIGTERM. Blocks."""
    from .server import raise_nofile_limit, run

    raise_nofile_limit()
    asyncio.run(run(fleet, host, username, password, admin_port, inventory_file,
                    register_url, smd_port, smd_minute_s))
