"""HPE Cray xname grammar: parse a name into its component type, parent and children types.

The facts (types, number ranges, parents) are those of the hardware naming that HSM and upstream
PCS validate with (Cray-HPE/hms-xname, xnametypes). Wildcards and the non-hardware names (`all`,
partitions `p1.2`, SMS boxes `sms1`) are not component names and do not parse here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple


class XnameType(NamedTuple):
    type: str
    pattern: str         # letters, {lo-hi} / {lo-} numbers, [jv] alternative letters
    parent: str | None
    power_control: bool  # API.md: the types a transition may act on


# Numbers in patterns: {0-7} is 0 to 7, {1-} is 1 and up. Cabinets take 1 to 4 digits.
_X = "x{0-9999}"
_CHASSIS = _X + "c{0-7}"
_SLOT = _CHASSIS + "s{0-}"
_NODE_BMC = _SLOT + "b{0-}"
_NODE = _NODE_BMC + "n{0-}"
_ROUTER = _CHASSIS + "r{0-}"
_PDU = _X + "m{0-3}p{0-7}"

GRAMMAR: tuple[XnameType, ...] = (
    XnameType("System", "s{0-0}", None, False),
    XnameType("CDU", "d{0-}", "System", False),
    XnameType("CDUMgmtSwitch", "d{0-}w{0-}", "CDU", True),
    XnameType("Cabinet", _X, "System", False),
    XnameType("CabinetBMC", _X + "b{0-0}", "Cabinet", False),
    XnameType("CabinetCDU", _X + "d{0-1}", "Cabinet", False),
    XnameType("CEC", _X + "e{0-1}", "Cabinet", False),
    XnameType("CabinetPDUController", _X + "m{0-3}", "Cabinet", False),
    XnameType("CabinetPDUNic", _X + "m{0-3}i{0-3}", "CabinetPDUController", False),
    XnameType("CabinetPDU", _PDU, "CabinetPDUController", False),
    XnameType("CabinetPDUOutlet", _PDU + "j{1-}", "CabinetPDU", False),  # deprecated for v
    XnameType("CabinetPDUPowerConnector", _PDU + "v{1-}", "CabinetPDU", True),
    XnameType("Chassis", _CHASSIS, "Cabinet", True),
    XnameType("ChassisBMC", _CHASSIS + "b{0-0}", "Chassis", True),
    XnameType("ChassisBMCNic", _CHASSIS + "b{0-0}i{0-3}", "ChassisBMC", False),
    XnameType("CMMFpga", _CHASSIS + "f{0-0}", "Chassis", False),
    XnameType("CMMRectifier", _CHASSIS + "t{0-9}", "Chassis", False),
    XnameType("MgmtSwitch", _CHASSIS + "w{1-}", "Chassis", True),
    XnameType("MgmtSwitchConnector", _CHASSIS + "w{1-}j{1-}", "MgmtSwitch", False),
    XnameType("MgmtHLSwitchEnclosure", _CHASSIS + "h{1-}", "Chassis", False),
    XnameType("MgmtHLSwitch", _CHASSIS + "h{1-}s{1-9}", "MgmtHLSwitchEnclosure", True),
    XnameType("ComputeModule", _SLOT, "Chassis", True),
    # The connector letter was j and is now v; both name the same connector.
    XnameType("NodePowerConnector", _SLOT + "[jv]{1-2}", "ComputeModule", False),
    XnameType("NodeEnclosure", _SLOT + "e{0-}", "ComputeModule", False),
    XnameType("NodeEnclosurePowerSupply", _SLOT + "e{0-}t{0-}", "NodeEnclosure", False),
    XnameType("NodeBMC", _NODE_BMC, "ComputeModule", True),
    XnameType("NodeBMCNic", _NODE_BMC + "i{0-3}", "NodeBMC", False),
    # hms-xname files the FPGA under the enclosure, although its name extends the BMC's.
    XnameType("NodeFpga", _NODE_BMC + "f{0-0}", "NodeEnclosure", False),
    XnameType("Node", _NODE, "NodeBMC", True),
    XnameType("Processor", _NODE + "p{0-3}", "Node", False),
    XnameType("NodeAccel", _NODE + "a{0-}", "Node", False),
    XnameType("NodeAccelRiser", _NODE + "r{0-7}", "Node", False),
    XnameType("Memory", _NODE + "d{0-}", "Node", False),
    XnameType("NodeHsnNic", _NODE + "h{0-3}", "Node", False),
    XnameType("NodeNic", _NODE + "i{0-3}", "Node", False),
    XnameType("VirtualNode", _NODE + "v{0-}", "Node", False),
    XnameType("StorageGroup", _NODE + "g{0-}", "Node", False),
    XnameType("Drive", _NODE + "g{0-}k{0-}", "StorageGroup", False),
    XnameType("RouterModule", _ROUTER, "Chassis", True),
    XnameType("RouterBMC", _ROUTER + "b{0-}", "RouterModule", True),
    XnameType("RouterBMCNic", _ROUTER + "b{0-}i{0-3}", "RouterBMC", False),
    XnameType("RouterFpga", _ROUTER + "f{0-1}", "RouterModule", False),
    XnameType("RouterTOR", _ROUTER + "t{0-}", "RouterModule", False),
    XnameType("RouterTORFpga", _ROUTER + "t{0-}f{0-1}", "RouterTOR", False),
    XnameType("RouterPowerConnector", _ROUTER + "v{1-2}", "RouterModule", False),
    XnameType("HSNBoard", _ROUTER + "e{0-}", "RouterModule", False),
    XnameType("HSNAsic", _ROUTER + "a{0-3}", "RouterModule", False),
    XnameType("HSNLink", _ROUTER + "a{0-3}l{0-}", "HSNAsic", False),
    XnameType("HSNConnector", _ROUTER + "j{1-}", "RouterModule", False),
    XnameType("HSNConnectorPort", _ROUTER + "j{1-}p{0-2}", "HSNConnector", False),
)

CONTROLLABLE_TYPES = frozenset(t.type for t in GRAMMAR if t.power_control)
_PARENT_OF = {t.type: t.parent for t in GRAMMAR}


class _Matcher(NamedTuple):
    """One type's pattern compiled: a regex with a group per number, and each number's bounds."""
    type: str
    regex: re.Pattern
    bounds: tuple[tuple[int, int | None], ...]

    def accepts(self, name: str) -> bool:
        found = self.regex.fullmatch(name)
        return found is not None and all(
            lo <= int(n) and (hi is None or int(n) <= hi)
            for n, (lo, hi) in zip(found.groups(), self.bounds))


_NUMBER = re.compile(r"\{(\d+)-(\d*)\}")


def _compile(entry: XnameType) -> _Matcher:
    # A normalized number has no leading zeros, so "0|[1-9]digits" reads each one exactly once.
    regex = _NUMBER.sub(r"(0|[1-9]\\d*)", entry.pattern)
    bounds = tuple((int(lo), int(hi) if hi else None)
                   for lo, hi in _NUMBER.findall(entry.pattern))
    return _Matcher(entry.type, re.compile(regex), bounds)


def _shapes(pattern: str) -> list[str]:
    """The letter sequences a pattern accepts: x{..}c{..}s{..}[jv]{..} -> ["xcsj", "xcsv"]."""
    shapes = [""]
    for part in re.findall(r"\[[a-z]+\]|[a-z]", _NUMBER.sub("", pattern)):
        shapes = [s + letter for s in shapes for letter in part.strip("[]")]
    return shapes


def _by_shape() -> dict[str, list[_Matcher]]:
    """Candidates per letter sequence. A list, because nothing in the naming stops two types
    from sharing letters and telling each other apart by their number ranges only."""
    table: dict[str, list[_Matcher]] = {}
    for entry in GRAMMAR:
        for shape in _shapes(entry.pattern):
            table.setdefault(shape, []).append(_compile(entry))
    return table


_BY_SHAPE = _by_shape()
_DIGITS = re.compile(r"\d+")


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
    for candidate in _BY_SHAPE.get(_DIGITS.sub("", name), ()):
        if candidate.accepts(name):
            return Xname(name, candidate.type)
    return None


def parent_type(type_: str) -> str | None:
    return _PARENT_OF.get(type_)


def child_types(type_: str) -> list[str]:
    """The types directly below a type, in grammar order (Chassis -> ChassisBMC, ...)."""
    return [t.type for t in GRAMMAR if t.parent == type_]


_LAST_PART = re.compile(r"[a-z]\d+\Z")
_SYSTEM = Xname("s0", "System")


def parent(name: Xname) -> Xname | None:
    """The component directly above: x1000c0s0b0n0 -> x1000c0s0b0, x1000 -> s0 (None at s0).
    A name without the parent's number (NodeFpga) gives the component its name extends."""
    if parent_type(name.type) == "System":
        return _SYSTEM   # cabinets and CDUs do not spell the system in their names
    if parent_type(name.type) is None:
        return None
    return parse(_LAST_PART.sub("", name.name))


def ancestors(name: Xname) -> list[Xname]:
    """The parent chain, nearest first: node -> node BMC -> slot -> chassis -> cabinet -> s0."""
    chain, current = [], parent(name)
    while current is not None:
        chain.append(current)
        current = parent(current)
    return chain


def node_name(bmc_xname: str, index: int) -> str:
    """The Node xname of a BMC's index-th system (discovery order)."""
    return f"{bmc_xname}n{index}"
