"""HPE Cray xname grammar: parse a name into its component type, parent and children types.

The facts (types, number ranges, parents) are those of the hardware naming that HSM and upstream
PCS validate with (Cray-HPE/hms-xname, xnametypes). Wildcards and the non-hardware names (`all`,
partitions `p1.2`, SMS boxes `sms1`) are not component names and do not parse here.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import NamedTuple


class XnameType(NamedTuple):
    type: str
    pattern: str         # letters, {lo-hi} / {lo-} numbers, [jv] alternative letters
    parent: str | None
    power_control: bool  # API.md: the types a transition may act on


# One row per type: type, name pattern, parent type ("-" at the top), power control (API.md).
# In patterns {0-7} is a number from 0 to 7 and {1-} one from 1 up (cabinets take 1 to 4 digits);
# [jv] is either letter.
_TABLE = """
System                    s{0-0}                                    -                      no
CDU                       d{0-}                                     System                 no
CDUMgmtSwitch             d{0-}w{0-}                                CDU                    yes
Cabinet                   x{0-9999}                                 System                 no
CabinetBMC                x{0-9999}b{0-0}                           Cabinet                no
CabinetCDU                x{0-9999}d{0-1}                           Cabinet                no
CEC                       x{0-9999}e{0-1}                           Cabinet                no
CabinetPDUController      x{0-9999}m{0-3}                           Cabinet                no
CabinetPDUNic             x{0-9999}m{0-3}i{0-3}                     CabinetPDUController   no
CabinetPDU                x{0-9999}m{0-3}p{0-7}                     CabinetPDUController   no
# j outlets are the deprecated spelling of v power connectors
CabinetPDUOutlet          x{0-9999}m{0-3}p{0-7}j{1-}                CabinetPDU             no
CabinetPDUPowerConnector  x{0-9999}m{0-3}p{0-7}v{1-}                CabinetPDU             yes
Chassis                   x{0-9999}c{0-7}                           Cabinet                yes
ChassisBMC                x{0-9999}c{0-7}b{0-0}                     Chassis                yes
ChassisBMCNic             x{0-9999}c{0-7}b{0-0}i{0-3}               ChassisBMC             no
CMMFpga                   x{0-9999}c{0-7}f{0-0}                     Chassis                no
CMMRectifier              x{0-9999}c{0-7}t{0-9}                     Chassis                no
MgmtSwitch                x{0-9999}c{0-7}w{1-}                      Chassis                yes
MgmtSwitchConnector       x{0-9999}c{0-7}w{1-}j{1-}                 MgmtSwitch             no
MgmtHLSwitchEnclosure     x{0-9999}c{0-7}h{1-}                      Chassis                no
MgmtHLSwitch              x{0-9999}c{0-7}h{1-}s{1-9}                MgmtHLSwitchEnclosure  yes
ComputeModule             x{0-9999}c{0-7}s{0-}                      Chassis                yes
# the connector letter was j and is now v; both name the same connector
NodePowerConnector        x{0-9999}c{0-7}s{0-}[jv]{1-2}             ComputeModule          no
NodeEnclosure             x{0-9999}c{0-7}s{0-}e{0-}                 ComputeModule          no
NodeEnclosurePowerSupply  x{0-9999}c{0-7}s{0-}e{0-}t{0-}            NodeEnclosure          no
NodeBMC                   x{0-9999}c{0-7}s{0-}b{0-}                 ComputeModule          yes
NodeBMCNic                x{0-9999}c{0-7}s{0-}b{0-}i{0-3}           NodeBMC                no
# hms-xname files the FPGA under the enclosure, although its name extends the BMC's
NodeFpga                  x{0-9999}c{0-7}s{0-}b{0-}f{0-0}           NodeEnclosure          no
Node                      x{0-9999}c{0-7}s{0-}b{0-}n{0-}            NodeBMC                yes
Processor                 x{0-9999}c{0-7}s{0-}b{0-}n{0-}p{0-3}      Node                   no
NodeAccel                 x{0-9999}c{0-7}s{0-}b{0-}n{0-}a{0-}       Node                   no
NodeAccelRiser            x{0-9999}c{0-7}s{0-}b{0-}n{0-}r{0-7}      Node                   no
Memory                    x{0-9999}c{0-7}s{0-}b{0-}n{0-}d{0-}       Node                   no
NodeHsnNic                x{0-9999}c{0-7}s{0-}b{0-}n{0-}h{0-3}      Node                   no
NodeNic                   x{0-9999}c{0-7}s{0-}b{0-}n{0-}i{0-3}      Node                   no
VirtualNode               x{0-9999}c{0-7}s{0-}b{0-}n{0-}v{0-}       Node                   no
StorageGroup              x{0-9999}c{0-7}s{0-}b{0-}n{0-}g{0-}       Node                   no
Drive                     x{0-9999}c{0-7}s{0-}b{0-}n{0-}g{0-}k{0-}  StorageGroup           no
RouterModule              x{0-9999}c{0-7}r{0-}                      Chassis                yes
RouterBMC                 x{0-9999}c{0-7}r{0-}b{0-}                 RouterModule           yes
RouterBMCNic              x{0-9999}c{0-7}r{0-}b{0-}i{0-3}           RouterBMC              no
RouterFpga                x{0-9999}c{0-7}r{0-}f{0-1}                RouterModule           no
RouterTOR                 x{0-9999}c{0-7}r{0-}t{0-}                 RouterModule           no
RouterTORFpga             x{0-9999}c{0-7}r{0-}t{0-}f{0-1}           RouterTOR              no
RouterPowerConnector      x{0-9999}c{0-7}r{0-}v{1-2}                RouterModule           no
HSNBoard                  x{0-9999}c{0-7}r{0-}e{0-}                 RouterModule           no
HSNAsic                   x{0-9999}c{0-7}r{0-}a{0-3}                RouterModule           no
HSNLink                   x{0-9999}c{0-7}r{0-}a{0-3}l{0-}           HSNAsic                no
HSNConnector              x{0-9999}c{0-7}r{0-}j{1-}                 RouterModule           no
HSNConnectorPort          x{0-9999}c{0-7}r{0-}j{1-}p{0-2}           HSNConnector           no
"""


def _rows(table: str) -> tuple[XnameType, ...]:
    rows = []
    for line in table.splitlines():
        if line and not line.startswith("#"):
            type_, pattern, parent, power = line.split()
            rows.append(XnameType(type_, pattern, None if parent == "-" else parent,
                                  power == "yes"))
    return tuple(rows)


GRAMMAR = _rows(_TABLE)
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
    return _parse(text)


# A request's names are parsed by the API and again by the queue; a machine has some 10^4 to
# 10^5 of them, and the answer never changes (Xname is frozen).
@functools.lru_cache(maxsize=1 << 16)
def _parse(text: str) -> Xname | None:
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
