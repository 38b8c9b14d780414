"""Building blocks of the simulator's pure state model: power elements and BMCs.

No I/O here: time is passed in explicitly as a float (epoch seconds).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

ON = "On"
OFF = "Off"
POWERING_ON = "PoweringOn"
POWERING_OFF = "PoweringOff"

# ResetType values advertised in ComputerSystem.Reset AllowableValues.
ALLOWABLE_RESET_TYPES = [
    "On", "ForceOff", "GracefulShutdown", "GracefulRestart",
    "ForceRestart", "Nmi", "PushPowerButton",
]
# ResetType values the power model understands (superset of the above).
KNOWN_RESET_TYPES = set(ALLOWABLE_RESET_TYPES) | {"ForceOn", "PowerCycle", "Off"}
# ResetType values that go Off and come back On (a power-on even from On).
RESTART_TYPES = ("GracefulRestart", "ForceRestart", "PowerCycle")
# ResetType values a chassis (enclosure or blade) understands, and its default.
CHASSIS_RESET_TYPES = {"On", "ForceOn", "ForceOff", "Off", "GracefulShutdown"}
CHASSIS_ALLOWABLE = ["On", "ForceOff"]
MANAGER_RESET_TYPES = ["ForceRestart", "GracefulRestart"]
# PowerState values of Outlet.PowerControl, and a management switch's default ResetTypes.
OUTLET_POWER_STATES = ["On", "Off"]
SWITCH_ALLOWABLE = ["On", "ForceOff", "GracefulShutdown"]

LOG_MAX_ENTRIES = 200_000


def bmc_xname(i: int) -> str:
    """xname of BMC index i: 8 slots per chassis, 8 chassis per cabinet."""
    if i < 0:
        raise ValueError("BMC index must be >= 0")
    return f"x{1000 + i // 64}c{(i // 8) % 8}s{i % 8}b0"


class FleetError(ValueError):
    """Invalid argument for a fleet operation (bad fault, unknown name...)."""


def parse_reset_types(values: Iterable[Any], allowed: Iterable[str] = KNOWN_RESET_TYPES
                      ) -> List[str]:
    """Validate a list of ResetType names (no duplicates kept, order kept)."""
    allowed = set(allowed)
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise FleetError("ResetType must be a list of strings")
    out: List[str] = []
    for v in values:
        if not isinstance(v, str) or v not in allowed:
            raise FleetError(f"unsupported ResetType {v!r} "
                             f"(known: {', '.join(sorted(allowed))})")
        if v not in out:
            out.append(v)
    if not out:
        raise FleetError("ResetType list must not be empty")
    return out


@dataclass
class System:
    """One ComputerSystem with a power state and an optional pending change."""

    name: str
    state: str = OFF  # settled state: On / Off
    pending_target: Optional[str] = None
    pending_due: float = 0.0
    fallback_at: Optional[float] = None   # a 'fallback' fault drops it to Off then

    def _settle(self, now: float) -> None:
        if self.pending_target is not None and now >= self.pending_due:
            self.state = self.pending_target
            self.pending_target = None
        if (self.fallback_at is not None and now >= self.fallback_at
                and self.pending_target is None):
            self.state = OFF
            self.fallback_at = None

    def power_state(self, now: float) -> str:
        self._settle(now)
        if self.pending_target is None:
            return self.state
        return POWERING_ON if self.pending_target == ON else POWERING_OFF

    def target(self, now: float) -> str:
        """The state the system is heading to (settled state if none pending)."""
        self._settle(now)
        return self.pending_target if self.pending_target is not None else self.state

    def set_state(self, state: str) -> None:
        """Set the power state directly, cancelling any pending change (and fallback)."""
        self.state = state
        self.pending_target = None
        self.fallback_at = None

    def _go(self, target: str, now: float, delay: float) -> None:
        if target == self.state:
            # Already there: cancel any pending change (later reset replaces it).
            self.pending_target = None
        elif delay <= 0:
            self.state = target
            self.pending_target = None
        else:
            self.pending_target = target
            self.pending_due = now + delay

    def reset(self, reset_type: str, now: float, delay: float) -> None:
        """Apply a ResetType at time ``now`` with a transition delay."""
        self._settle(now)
        if reset_type in ("On", "ForceOn"):
            self._go(ON, now, delay)
        elif reset_type in ("ForceOff", "GracefulShutdown", "Off"):
            self._go(OFF, now, delay)
        elif reset_type == "PushPowerButton":
            self._go(OFF if self.target(now) == ON else ON, now, delay)
        elif reset_type in RESTART_TYPES:
            # Goes off at once, then comes back on after the delay.
            self.state = OFF
            self.pending_target = None
            self._go(ON, now, delay)
        elif reset_type == "Nmi":
            pass
        else:
            raise FleetError(f"unsupported ResetType {reset_type!r}")


@dataclass
class BMC:
    index: int
    xname: str
    port: int
    systems: Dict[str, System] = field(default_factory=dict)
    faults: List[Dict[str, Any]] = field(default_factory=list)   # disjoint scopes, see faults
    tasks: Dict[str, Task] = field(default_factory=dict)       # Redfish Tasks by Id
    kind: str = "NodeBMC"
    powered: bool = True          # False while the slot holding it is powered off
    boot_until: float = 0.0       # unreachable until then (Manager reset, slot power-on)
    allowable: Optional[List[str]] = None   # per-BMC ResetType override

    def system_names(self) -> List[str]:
        return list(self.systems)

    def node_xnames(self) -> List[str]:
        return [f"{self.xname}n{j}" for j in range(len(self.systems))]

    def reachable(self, now: float) -> bool:
        """Whether the BMC answers at ``now`` (faults aside)."""
        return self.powered and now >= self.boot_until


@dataclass
class ChassisBMC(BMC):
    """A chassis controller: an Enclosure and the blades (slots) it powers."""

    chassis_xname: str = ""
    enclosure: System = field(default_factory=lambda: System("Enclosure", state=ON))
    blades: Dict[int, System] = field(default_factory=dict)      # slot -> power element
    slot_bmcs: Dict[int, BMC] = field(default_factory=dict)      # slot -> node BMC

    def elements(self) -> Dict[str, System]:
        """Chassis Id -> power element ("Enclosure", "Blade0", ...)."""
        out = {"Enclosure": self.enclosure}
        out.update({f"Blade{s}": self.blades[s] for s in sorted(self.blades)})
        return out


@dataclass
class Task:
    """A reset accepted as a Redfish Task (the 'task' fault): it ends at ``due``."""

    id: str
    system: str
    reset_type: str
    target_uri: str
    body: Any
    start: float
    due: float
    outcome: str            # "completed" (the reset is applied at due) or "exception"
    message: str
    settled: bool = False   # the outcome has been applied

    def state(self, now: float) -> str:
        if now < self.due:
            return "Running"
        return "Completed" if self.outcome == "completed" else "Exception"


def chassis_of(i: int) -> str:
    """xname of the chassis holding node BMC index i."""
    return f"x{1000 + i // 64}c{(i // 8) % 8}"


def slot_of(i: int) -> int:
    return i % 8


def pdu_xname(j: int) -> str:
    """xname of cabinet PDU controller j (all in the river cabinet x3000)."""
    return f"x3000m{j}"


def switch_xname(k: int) -> str:
    """xname of management switch k (x3000c0w1, x3000c0w2, ...)."""
    return f"x3000c0w{k + 1}"


def outlet_id(n: int) -> str:
    return f"AA{n + 1}"


@dataclass
class PDUController(BMC):
    """A cabinet PDU controller: one rack PDU with switchable outlets (Id -> power)."""

    outlets: Dict[str, System] = field(default_factory=dict)


@dataclass
class MgmtSwitch(BMC):
    """A management switch: one RackMount chassis "Switch" with a power state."""

    switch: System = field(default_factory=lambda: System("Switch", state=ON))
