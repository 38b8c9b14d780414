"""Chassis BMCs, slots and power coupling (the opt-in hierarchy mode of a Fleet).

Pure: every operation takes the time ``now``. Pending chassis power changes are
settled lazily by :meth:`HierarchyMixin.sync`, in time order, and each settled
change applies its coupling at the instant it took effect:

* Blade Off: the slot's node BMC loses power (unreachable) and its nodes go Off.
* Blade On: the node BMC gets power and answers after ``bmc_boot_delay_s``; nodes stay Off.
* Enclosure Off: every blade goes Off (as above). Enclosure On leaves the blades Off.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from .model import BMC, OFF, ON, ChassisBMC, FleetError, System, chassis_of, slot_of


class HierarchyMixin:
    """Mixed into Fleet; expects ``bmcs``, ``by_xname``, ``by_port``, ``power_delay``."""

    bmcs: List[BMC]
    by_xname: Dict[str, BMC]
    by_port: Dict[int, BMC]
    power_delay_s: float
    bmc_boot_delay_s: float
    chassis_bmcs: List[ChassisBMC]
    _parent: Dict[str, Tuple[ChassisBMC, int]] = {}   # node BMC xname -> (chassis BMC, slot)

    def _build_chassis(self, port_next: int) -> None:
        by_chassis: Dict[str, ChassisBMC] = {}
        for b in self.bmcs:
            cx = chassis_of(b.index)
            cb = by_chassis.get(cx)
            if cb is None:
                cb = ChassisBMC(index=len(self.chassis_bmcs), xname=f"{cx}b0",
                                port=port_next + len(self.chassis_bmcs), kind="ChassisBMC",
                                chassis_xname=cx)
                by_chassis[cx] = cb
                self.chassis_bmcs.append(cb)
                self.by_xname[cb.xname] = cb
                self.by_port[cb.port] = cb
            slot = slot_of(b.index)
            cb.blades[slot] = System(name=f"Blade{slot}", state=ON)
            cb.slot_bmcs[slot] = b
        self._parent = {
            b.xname: (cb, s) for cb in self.chassis_bmcs for s, b in cb.slot_bmcs.items()}

    @property
    def hierarchy(self) -> bool:
        return bool(self.chassis_bmcs)

    # ---- settling ---------------------------------------------------------
    def sync(self, now: float) -> None:
        """Settle every chassis power change due by ``now``, applying its coupling."""
        for cb in self.chassis_bmcs:
            self._sync_chassis(cb, now)

    def _sync_chassis(self, cb: ChassisBMC, now: float) -> None:
        while True:
            due = [(el.pending_due, cid) for cid, el in cb.elements().items()
                   if el.pending_target is not None and el.pending_due <= now]
            if not due:
                return
            t, cid = min(due, key=lambda d: (d[0], d[1] != "Enclosure"))
            el = cb.elements()[cid]
            state = el.pending_target
            el.state, el.pending_target = state, None
            self._apply(cb, cid, state, t)

    def _apply(self, cb: ChassisBMC, cid: str, state: str, t: float) -> None:
        if cid == "Enclosure":
            if state == OFF:
                for s, blade in cb.blades.items():
                    blade.set_state(OFF)
                    self._slot_power(cb, s, False, t)
            return
        self._slot_power(cb, int(cid[len("Blade"):]), state == ON, t)

    def _slot_power(self, cb: ChassisBMC, slot: int, on: bool, t: float) -> None:
        b = cb.slot_bmcs[slot]
        if on == b.powered:
            return
        b.powered = on
        b.boot_until = t + self.bmc_boot_delay_s if on else 0.0
        for s in b.systems.values():   # nodes lose power; they come back Off
            s.set_state(OFF)

    # ---- lookup -----------------------------------------------------------
    def chassis_bmc(self, xname: str) -> ChassisBMC:
        b = self.by_xname.get(xname)
        if not isinstance(b, ChassisBMC):
            raise FleetError(f"unknown chassis BMC {xname!r}")
        return b

    def element(self, xname: str, cid: str) -> System:
        try:
            return self.chassis_bmc(xname).elements()[cid]
        except KeyError:
            raise FleetError(f"unknown chassis {cid!r} on {xname}") from None

    def sync_for(self, b: BMC, now: float) -> None:
        """Settle only the chassis that can change BMC ``b`` (cheaper than :meth:`sync`)."""
        if isinstance(b, ChassisBMC):
            self._sync_chassis(b, now)
        elif b.xname in self._parent:
            self._sync_chassis(self._parent[b.xname][0], now)

    def reachable(self, b: BMC, now: float) -> bool:
        """Whether BMC ``b`` answers at ``now`` (faults aside)."""
        self.sync_for(b, now)
        return b.reachable(now)

    # ---- operations ---------------------------------------------------------
    def chassis_reset(self, xname: str, cid: str, reset_type: str, now: float) -> None:
        """Chassis.Reset on a chassis BMC's Enclosure or Blade<s>."""
        cb = self.chassis_bmc(xname)
        self._sync_chassis(cb, now)
        el = self.element(xname, cid)
        if reset_type in ("On", "ForceOn"):
            self._check_enclosure_on(cb, cid)
        before = el.state
        el.reset(reset_type, now, self.power_delay(cb))
        if el.pending_target is None and el.state != before:
            self._apply(cb, cid, el.state, now)   # a zero delay takes effect (and couples) now

    def set_chassis_power(self, xname: str, cid: str, state: str, now: float) -> None:
        """Admin: set a chassis element's power directly (cancelling any pending change)."""
        norm = {"on": ON, "off": OFF}.get(str(state).lower())
        if norm is None:
            raise FleetError("PowerState must be 'On' or 'Off'")
        cb = self.chassis_bmc(xname)
        self._sync_chassis(cb, now)
        el = self.element(xname, cid)
        if norm == ON:
            self._check_enclosure_on(cb, cid)
        changed = el.state != norm or el.pending_target is not None
        el.set_state(norm)
        if changed:
            self._apply(cb, cid, norm, now)

    @staticmethod
    def _check_enclosure_on(cb: ChassisBMC, cid: str) -> None:
        if cid != "Enclosure" and cb.enclosure.state != ON:
            raise EnclosureOff("Enclosure is powered off")

    def manager_reset(self, xname: str, now: float) -> None:
        """Manager.Reset: in hierarchy mode the BMC is unreachable for the boot delay."""
        b = self.by_xname.get(xname)
        if b is None:
            raise FleetError(f"unknown BMC {xname!r}")
        if self.hierarchy:
            b.boot_until = max(b.boot_until, now + self.bmc_boot_delay_s)

    def chassis_states(self, cb: ChassisBMC, now: float) -> Dict[str, str]:
        self._sync_chassis(cb, now)
        return {cid: el.power_state(now) for cid, el in cb.elements().items()}

    def check_node_bmc(self, b: BMC, now: float) -> None:
        """Raise Unreachable if node BMC ``b`` cannot take a request at ``now``."""
        self.sync_for(b, now)
        if not b.powered:
            raise Unreachable(f"{b.xname} is not powered (its slot is off)")
        if not b.reachable(now):
            raise Unreachable(f"{b.xname} is booting")


class EnclosureOff(FleetError):
    """A blade cannot be powered on while its enclosure is off."""


class Unreachable(FleetError):
    """The BMC is powered off or booting."""

