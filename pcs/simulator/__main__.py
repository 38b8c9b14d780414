"""python -m pcs.simulator --bmcs N [--nodes-per-bmc K] [--port-base P] ..."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional, Tuple

from . import serve_fleet
from .faults import parse_fault_flag
from .capping import CAP_STYLES, parse_cap_styles
from .fleet import Fleet, FleetError, parse_reset_types

FAULTS_HELP = """\
faults (--fault TARGET=KIND[:key=value,...], repeatable; same specs as
PUT /admin/bmcs/{xname}/fault):
  TARGET  a BMC xname (x1000c0s0b0), a node xname (x1000c0s0b0n1: that BMC's
          system Node1 only) or all (every BMC)
  status:status=503,message=Busy,retry_after=5,requests=actions|all,count=N
          answer an HTTP error (default 500; POSTs only unless requests=all)
  close:requests=all|actions,count=N      close the connection, no answer
  hang:requests=all|actions,count=N       no answer until the fault is cleared
  down                                    stop listening
  ignore:count=N                          first N resets answer 204, change nothing
  slow:delay=S                            power changes take S seconds
  fallback:after=S                        every power-on drops to Off S s after On
  task:duration=S,outcome=completed|exception,message=TEXT,count=N
          resets answer 202 + a Redfish Task (Location: /redfish/v1/TaskService/Tasks/<n>)
  refuse:reset_types=Nmi+GracefulRestart,count=N
          those (still advertised) ResetTypes answer 400 ActionParameterNotSupported
  Every kind but down takes systems=Node0+Node1 (only those systems). Numbers parse as
  numbers, lists are '+'-separated, values cannot contain ','.
  e.g. --fault x1000c0s1b0=status:status=503,retry_after=2 --fault all=slow:delay=3

SMD face (--smd-port P): HSM v2 on the same host, port P, describing the fleet:
  GET  /hsm/v2/service/liveness, /hsm/v2/service/ready
  POST /hsm/v2/State/Components/Query        GET /hsm/v2/State/Components[/<xname>]
  PATCH /hsm/v2/State/Components/BulkStateData
  GET  /hsm/v2/Inventory/ComponentEndpoints?id=...   GET /hsm/v2/sysinfo/powermaps[/<xname>]
  POST /hsm/v2/locks/service/reservations[/check|/renew|/release]
  POST /hsm/v2/locks/lock, /hsm/v2/locks/unlock   GET|POST /hsm/v2/locks/status
  admin, on the same port:
  GET /admin/smd/locks                 reservations (with keys) and locks held
  GET|DELETE /admin/smd/pushes         BulkStateData requests received, with time
  GET|PUT|DELETE /admin/smd/fault      {"status": 500} or {"down": true}: every HSM call fails
  GET|PUT /admin/smd/components/<xname>  set Role, State, Flag, Enabled, ReservationDisabled

power capping (--cap-style [BMC=]STYLE: cray, power, apollo, controls or none):
  GET|PUT /admin/bmcs/<xname>/capping  the limits each node holds; PUT {"style": S} or
          {"fault": "refuse"|"ignore"|null}: writes refused (500) or accepted but not applied
"""


def _fault_flag(text: str) -> Tuple[str, Dict[str, Any], str]:
    try:
        target, spec = parse_fault_flag(text)
    except FleetError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return target, spec, text


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pcs.simulator",
                                description="Run a fleet of simulated Redfish BMCs.",
                                epilog=FAULTS_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bmcs", type=int, required=True, help="number of BMCs")
    p.add_argument("--nodes-per-bmc", type=int, default=2)
    p.add_argument("--port-base", type=int, default=30000,
                   help="BMC i listens on port-base + i")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--power-delay", type=float, default=0.0,
                   help="seconds a power transition takes")
    p.add_argument("--initial-state", choices=["on", "off"], default="off")
    p.add_argument("--username", default="root")
    p.add_argument("--password", default="initial0")
    p.add_argument("--admin-port", type=int, default=None,
                   help="admin HTTP port (default: port-base - 1)")
    p.add_argument("--inventory-file", default=None,
                   help="write a JSON inventory of the BMCs here once listening")
    p.add_argument("--register", dest="register_url", default=None,
                   help="POST each BMC to <URL>/v1/inventory/bmcs once listening")
    p.add_argument("--chassis-bmcs", action="store_true",
                   help="add a chassis BMC per chassis (ports after the node BMCs), "
                        "with Enclosure/Blade power coupled to the node BMCs")
    p.add_argument("--bmc-boot-delay", type=float, default=0.0,
                   help="seconds a BMC stays unreachable after a Manager reset or after "
                        "its slot powers on")
    p.add_argument("--reset-types", default=None,
                   help="comma-separated ResetType AllowableValues of every node BMC "
                        "(e.g. On,ForceOff)")
    p.add_argument("--pdus", type=int, default=0,
                   help="number of cabinet PDU controllers x3000m<j> (ports after the "
                        "node and chassis BMCs)")
    p.add_argument("--outlets-per-pdu", type=int, default=4,
                   help="switchable outlets (AA1, AA2, ...) per PDU controller")
    p.add_argument("--switches", type=int, default=0,
                   help="number of management switches x3000c0w<k> (ports after the PDUs)")
    p.add_argument("--smd-port", type=int, default=None,
                   help="also serve the fleet's SMD face (HSM v2 and /admin/smd) on this port")
    p.add_argument("--smd-minute-s", type=float, default=60.0,
                   help="seconds in a minute of SMD reservation durations (tests shorten it)")
    p.add_argument("--cap-style", action="append", default=[], metavar="[BMC=]STYLE",
                   help=f"power-capping style of every node BMC, or BMC=STYLE for one "
                        f"(repeatable; {', '.join(CAP_STYLES)}; default cray)")
    p.add_argument("--fault", action="append", default=[], type=_fault_flag,
                   metavar="TARGET=KIND[:key=value,...]",
                   help="install a fault at start (repeatable; see 'faults' below)")
    a = p.parse_args(argv)
    if a.bmcs < 1 or a.nodes_per_bmc < 1:
        p.error("--bmcs and --nodes-per-bmc must be >= 1")
    if a.pdus < 0 or a.switches < 0:
        p.error("--pdus and --switches must be >= 0")
    if a.outlets_per_pdu < 1:
        p.error("--outlets-per-pdu must be >= 1")
    if a.smd_minute_s <= 0:
        p.error("--smd-minute-s must be > 0")
    if a.smd_port is not None and not 0 < a.smd_port < 65536:
        p.error("--smd-port must be a TCP port (1-65535)")
    if a.bmc_boot_delay < 0:
        p.error("--bmc-boot-delay must be >= 0")
    reset_types = None
    if a.reset_types is not None:
        reset_types = [t.strip() for t in a.reset_types.split(",") if t.strip()]
        try:
            parse_reset_types(reset_types)
        except ValueError as exc:
            p.error(f"--reset-types: {exc}")
    try:
        cap_style, cap_styles = parse_cap_styles(a.cap_style)
    except FleetError as exc:
        p.error(f"--cap-style: {exc}")
    try:
        fleet = Fleet(a.bmcs, nodes_per_bmc=a.nodes_per_bmc, port_base=a.port_base,
                      power_delay_s=a.power_delay, initial_state=a.initial_state,
                      chassis_bmcs=a.chassis_bmcs, bmc_boot_delay_s=a.bmc_boot_delay,
                      reset_types=reset_types, pdus=a.pdus, outlets_per_pdu=a.outlets_per_pdu,
                      switches=a.switches, cap_style=cap_style, cap_styles=cap_styles)
    except FleetError as exc:
        p.error(str(exc))
    for target, spec, text in a.fault:
        try:
            fleet.set_fault_target(target, spec)
        except FleetError as exc:
            p.error(f"argument --fault: {text!r}: {exc}")
    try:
        serve_fleet(fleet, host=a.host, username=a.username, password=a.password,
                    admin_port=a.admin_port, inventory_file=a.inventory_file,
                    register_url=a.register_url, smd_port=a.smd_port,
                    smd_minute_s=a.smd_minute_s)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
