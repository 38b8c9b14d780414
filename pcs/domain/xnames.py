"""HPE Cray xname grammar: parse a name into its component type, parent and children types."""
from __future__ import annotations

import re
from dataclasses import dataclass

# (type, pattern of the whole name, parent type). Order matters only for readability: the
# patterns are anchored and mutually exclusive.
_N = r"(0|[1-9]\d{0,5})"
GRAMMAR: list[tuple[str, str, str | None]] = [
    ("System", r"s0", None),
    ("CDU", rf"d{_N}", None),
    ("CDUMgmtSwitch", rf"d{_N}w{_N}", "CDU"),
    ("Cabinet", rf"x{_N}", None),
    ("CEC", rf"x{_N}e{_N}", "Cabinet"),
    ("CabinetPDUController", rf"x{_N}m{_N}", "Cabinet"),
    ("CabinetPDU", rf"x{_N}m{_N}p{_N}", "CabinetPDUController"),
    ("CabinetPDUOutlet", rf"x{_N}m{_N}p{_N}j{_N}", "CabinetPDU"),
    ("CabinetPDUPowerConnector", rf"x{_N}m{_N}p{_N}v{_N}", "CabinetPDU"),
    ("Chassis", rf"x{_N}c{_N}", "Cabinet"),
    ("ChassisBMC", rf"x{_N}c{_N}b{_N}", "Chassis"),
    ("MgmtSwitch", rf"x{_N}c{_N}w{_N}", "Chassis"),
    ("MgmtSwitchConnector", rf"x{_N}c{_N}w{_N}j{_N}", "MgmtSwitch"),
    ("MgmtHLSwitchEnclosure", rf"x{_N}c{_N}h{_N}", "Chassis"),
    ("MgmtHLSwitch", rf"x{_N}c{_N}h{_N}s{_N}", "MgmtHLSwitchEnclosure"),
    ("ComputeModule", rf"x{_N}c{_N}s{_N}", "Chassis"),
    ("NodeBMC", rf"x{_N}c{_N}s{_N}b{_N}", "ComputeModule"),
    ("NodeEnclosure", rf"x{_N}c{_N}s{_N}e{_N}", "ComputeModule"),
    ("NodePowerConnector", rf"x{_N}c{_N}s{_N}v{_N}", "ComputeModule"),
    ("Node", rf"x{_N}c{_N}s{_N}b{_N}n{_N}", "NodeBMC"),
    ("Processor", rf"x{_N}c{_N}s{_N}b{_N}n{_N}p{_N}", "Node"),
    ("NodeAccel", rf"x{_N}c{_N}s{_N}b{_N}n{_N}a{_N}", "Node"),
    ("Memory", rf"x{_N}c{_N}s{_N}b{_N}n{_N}d{_N}", "Node"),
    ("NodeHsnNic", rf"x{_N}c{_N}s{_N}b{_N}n{_N}h{_N}", "Node"),
    ("RouterModule", rf"x{_N}c{_N}r{_N}", "Chassis"),
    ("RouterBMC", rf"x{_N}c{_N}r{_N}b{_N}", "RouterModule"),
    ("RouterFpga", rf"x{_N}c{_N}r{_N}f{_N}", "RouterModule"),
    ("HSNBoard", rf"x{_N}c{_N}r{_N}e{_N}", "RouterModule"),
    ("HSNConnector", rf"x{_N}c{_N}r{_N}j{_N}", "RouterModule"),
]
_COMPILED = [(t, re.compile(p + r"\Z"), parent) for t, p, parent in GRAMMAR]
# A name's letters alone pick its only candidate pattern (x1000c0s0b0n0 -> "xcsbn").
_BY_SHAPE = {re.sub(r"[^a-z]", "", p.replace(_N, "")): (t, c) for (t, p, _), (_, c, _) in
             zip(GRAMMAR, _COMPILED)}
_DIGITS = re.compile(r"\d+")
_PARENT_OF = {t: parent for t, _, parent in GRAMMAR}

CONTROLLABLE_TYPES = frozenset({
    "Node", "ComputeModule", "RouterModule", "Chassis", "CabinetPDUPowerConnector",
    "ChassisBMC", "NodeBMC", "RouterBMC", "MgmtSwitch", "MgmtHLSwitch", "CDUMgmtSwitch",
})


@dataclass(frozen=True)
class Xname:
    name: str        # normalized: lower case, no leading zeros
    type: str

    @property
    def controllable(self) -> bool:
        return self.type in CONTROLLABLE_TYPES


_LEADING_ZEROS = re.compile(r"([a-z])0+(\d)")


def normalize(text: str) -> str:
    """x1000C0S01 -> x1000c0s1 (HSM accepts upper case and leading zeros)."""
    return _LEADING_ZEROS.sub(r"\1\2", text.strip().lower())


def parse(text: str) -> Xname | None:
    """The xname and its type, or None when the name does not parse."""
    if not isinstance(text, str) or not text or len(text) > 64:
        return None
    name = normalize(text)
    candidate = _BY_SHAPE.get(_DIGITS.sub("", name))
    if candidate is not None and candidate[1].match(name):
        return Xname(name, candidate[0])
    return None


def parent_type(type_: str) -> str | None:
    return _PARENT_OF.get(type_)


def child_types(type_: str) -> list[str]:
    """The types directly below a type, in grammar order (Chassis -> ChassisBMC, ...)."""
    return [t for t, _, parent in GRAMMAR if parent == type_]


_LAST_PART = re.compile(r"[a-z]\d+\Z")


def parent(name: Xname) -> Xname | None:
    """The component directly above: x1000c0s0b0n0 -> x1000c0s0b0 (None at the top)."""
    if parent_type(name.type) is None:
        return None
    return parse(_LAST_PART.sub("", name.name))


def ancestors(name: Xname) -> list[Xname]:
    """The parent chain, nearest first: node -> node BMC -> slot -> chassis -> cabinet."""
    chain, current = [], parent(name)
    while current is not None:
        chain.append(current)
        current = parent(current)
    return chain


def node_name(bmc_xname: str, index: int) -> str:
    """The Node xname of a BMC's index-th system (discovery order)."""
    return f"{bmc_xname}n{index}"
