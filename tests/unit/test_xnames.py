"""Unit tests for pcs.domain.xnames (pure): types, normalization, garbage, controllability."""
import pytest

from pcs.domain import xnames
from pcs.domain.xnames import CONTROLLABLE_TYPES, node_name, parent_type, parse

# API.md, "Power sequencing": the controllable types, listed exactly.
API_CONTROLLABLE = {
    "Node", "ComputeModule", "RouterModule", "Chassis", "CabinetPDUPowerConnector",
    "ChassisBMC", "NodeBMC", "RouterBMC", "MgmtSwitch", "MgmtHLSwitch", "CDUMgmtSwitch",
}

TYPED_NAMES = [
    ("x1000c0s0b0n0", "Node"),
    ("x1000c0s0b0", "NodeBMC"),
    ("x1000c0s0", "ComputeModule"),
    ("x1000c0", "Chassis"),
    ("x1000c0b0", "ChassisBMC"),
    ("x1000", "Cabinet"),
    ("x1000c0r0", "RouterModule"),
    ("x1000c0r0b0", "RouterBMC"),
    ("x3000c0w14", "MgmtSwitch"),
    ("x3000c0h12s1", "MgmtHLSwitch"),
    ("d0w1", "CDUMgmtSwitch"),
    ("x3000m0p0v1", "CabinetPDUPowerConnector"),
    ("x1000c0s0e0", "NodeEnclosure"),
    ("x1000c0r0e0", "HSNBoard"),
    ("x1000c0s0b0n0p0", "Processor"),
    ("s0", "System"),
    ("d0", "CDU"),
    ("x3000m0", "CabinetPDUController"),
    ("x3000m0p0", "CabinetPDU"),
    ("x3000m0p0j1", "CabinetPDUOutlet"),
    ("x3000c0h12", "MgmtHLSwitchEnclosure"),
    ("x1000c7s7b1n1", "Node"),
    ("x9000c3r7b0", "RouterBMC"),
]


@pytest.mark.parametrize("text, expected_type", TYPED_NAMES)
def test_parse_gives_the_component_type_of_each_name(text, expected_type):
    parsed = parse(text)
    assert parsed is not None
    assert parsed.type == expected_type
    assert parsed.name == text


@pytest.mark.parametrize("text, normalized", [
    ("X1000C0S01B0N0", "x1000c0s1b0n0"),
    ("x1000c0s0b0n0", "x1000c0s0b0n0"),
    ("x01000c00s00b00n00", "x1000c0s0b0n0"),
    ("X3000C0W014", "x3000c0w14"),
    ("D00W01", "d0w1"),
    ("x0", "x0"),
    ("x1000c0s10b0n0", "x1000c0s10b0n0"),     # inner zeros are not leading zeros
    ("x1000c0s0b0n100", "x1000c0s0b0n100"),
])
def test_parse_normalizes_upper_case_and_leading_zeros(text, normalized):
    parsed = parse(text)
    assert parsed is not None
    assert parsed.name == normalized
    assert parse(normalized).type == parsed.type


@pytest.mark.parametrize("garbage", [
    "",
    "foo",
    "x",
    "x1000c",
    "x1000c0s0b0n",
    "x1000c0s0b0n0x",
    "x1000c0s0b0n0junk",
    "x1000c0s0b0n0 x1000c0s0b0n1",
    "x1000c0s0b0n0,x1000c0s0b0n1",
    "x-1",
    "x1000c-1",
    "x1000c0s0b0n-1",
    "y1000c0",
    "c0s0b0n0",
    "x1000c0s0b0q0",
    "x1000c0s0b0n0p0q0",
    "s1",
    "x" + "0" * 60 + "1000c0s0b0n0",   # a valid name padded past the length limit
    "x1000c0s0b0n0" * 6,
])
def test_parse_rejects_garbage(garbage):
    assert parse(garbage) is None


@pytest.mark.parametrize("not_a_string", [None, 1000, 3.5, b"x1000c0s0b0n0", ["x1000"], {"x": 1}])
def test_parse_rejects_non_strings(not_a_string):
    assert parse(not_a_string) is None


def test_controllable_types_are_exactly_those_of_api_md():
    assert set(CONTROLLABLE_TYPES) == API_CONTROLLABLE


@pytest.mark.parametrize("text, controllable", [
    ("x1000c0s0b0n0", True),
    ("x1000c0s0", True),
    ("x1000c0r0", True),
    ("x1000c0", True),
    ("x3000m0p0v1", True),
    ("x1000c0b0", True),
    ("x1000c0s0b0", True),
    ("x1000c0r0b0", True),
    ("x3000c0w14", True),
    ("x3000c0h12s1", True),
    ("d0w1", True),
    ("x1000", False),
    ("s0", False),
    ("d0", False),
    ("x1000c0s0e0", False),
    ("x1000c0r0e0", False),
    ("x1000c0s0b0n0p0", False),
    ("x3000m0", False),
    ("x3000m0p0", False),
    ("x3000m0p0j1", False),
    ("x3000c0h12", False),
])
def test_controllable_follows_the_api_md_list(text, controllable):
    assert parse(text).controllable is controllable


@pytest.mark.parametrize("start, chain", [
    ("Node", ["NodeBMC", "ComputeModule", "Chassis", "Cabinet"]),
    ("Processor", ["Node", "NodeBMC", "ComputeModule", "Chassis", "Cabinet"]),
    ("RouterBMC", ["RouterModule", "Chassis", "Cabinet"]),
    ("HSNBoard", ["RouterModule", "Chassis", "Cabinet"]),
    ("ChassisBMC", ["Chassis", "Cabinet"]),
    ("MgmtSwitch", ["Chassis", "Cabinet"]),
    ("MgmtHLSwitch", ["MgmtHLSwitchEnclosure", "Chassis", "Cabinet"]),
    ("CDUMgmtSwitch", ["CDU"]),
    ("CabinetPDUPowerConnector", ["CabinetPDU", "CabinetPDUController", "Cabinet"]),
    ("NodeEnclosure", ["ComputeModule", "Chassis", "Cabinet"]),
    ("Cabinet", []),
    ("System", []),
])
def test_parent_type_chain_ends_at_a_root(start, chain):
    walked = []
    current = parent_type(start)
    while current is not None:
        walked.append(current)
        current = parent_type(current)
    assert walked == chain


def test_parent_type_of_an_unknown_type_is_none():
    assert parent_type("NoSuchType") is None


@pytest.mark.parametrize("text", [name for name, _ in TYPED_NAMES if len(name) > 2])
def test_parent_type_matches_the_type_of_the_name_without_its_last_part(text):
    """Stripping the last <letter><number> of a name gives a name of the parent type."""
    parsed = parse(text)
    expected_parent = parent_type(parsed.type)
    stripped = text.rstrip("0123456789")[:-1]
    if expected_parent is None:
        assert parse(stripped) is None
    else:
        assert parse(stripped).type == expected_parent


@pytest.mark.parametrize("bmc, index, expected", [
    ("x1000c0s0b0", 0, "x1000c0s0b0n0"),
    ("x1000c0s0b1", 1, "x1000c0s0b1n1"),
    ("x3000c0s17b0", 12, "x3000c0s17b0n12"),
])
def test_node_name_appends_the_system_index_and_parses_as_a_node(bmc, index, expected):
    name = node_name(bmc, index)
    assert name == expected
    parsed = xnames.parse(name)
    assert parsed.type == "Node"
    assert parent_type(parsed.type) == xnames.parse(bmc).type


@pytest.mark.parametrize("name,chain", [
    ("x1000c0s0b0n0", ["x1000c0s0b0", "x1000c0s0", "x1000c0", "x1000"]),
    ("x3000m0p1v12", ["x3000m0p1", "x3000m0", "x3000"]),
    ("x1000c7r3b0", ["x1000c7r3", "x1000c7", "x1000"]),
    ("d2w1", ["d2"]),
    ("x1000", []),
    ("s0", []),
])
def test_parent_chain_names_each_component_above(name, chain):
    from pcs.domain.xnames import ancestors, parse
    got = ancestors(parse(name))
    assert [x.name for x in got] == chain
    types = [x.type for x in got]
    assert all(t is not None for t in types)


def test_child_types_are_the_types_whose_parent_it_is():
    from pcs.domain.xnames import child_types
    assert child_types("NodeBMC") == ["Node"]
    assert set(child_types("Chassis")) >= {"ChassisBMC", "ComputeModule", "RouterModule",
                                           "MgmtSwitch"}
    assert child_types("Node") == ["Processor", "NodeAccel", "Memory", "NodeHsnNic"]
