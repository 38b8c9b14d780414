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
    ("Node", ["NodeBMC", "ComputeModule", "Chassis", "Cabinet", "System"]),
    ("Processor", ["Node", "NodeBMC", "ComputeModule", "Chassis", "Cabinet", "System"]),
    ("RouterBMC", ["RouterModule", "Chassis", "Cabinet", "System"]),
    ("HSNBoard", ["RouterModule", "Chassis", "Cabinet", "System"]),
    ("ChassisBMC", ["Chassis", "Cabinet", "System"]),
    ("MgmtSwitch", ["Chassis", "Cabinet", "System"]),
    ("MgmtHLSwitch", ["MgmtHLSwitchEnclosure", "Chassis", "Cabinet", "System"]),
    ("CDUMgmtSwitch", ["CDU", "System"]),
    ("CabinetPDUPowerConnector", ["CabinetPDU", "CabinetPDUController", "Cabinet", "System"]),
    ("NodeEnclosure", ["ComputeModule", "Chassis", "Cabinet", "System"]),
    ("Cabinet", ["System"]),
    ("CDU", ["System"]),
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


@pytest.mark.parametrize("text", [name for name, _ in TYPED_NAMES if name != "s0"])
def test_parent_type_matches_the_type_of_the_name_without_its_last_part(text):
    """Stripping the last <letter><number> of a name gives a name of the parent type; cabinets
    and CDUs sit under the system, whose name they do not spell."""
    parsed = parse(text)
    stripped = text.rstrip("0123456789")[:-1]
    if parent_type(parsed.type) == "System":
        assert parse(stripped) is None
    else:
        assert parse(stripped).type == parent_type(parsed.type)


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
    ("x1000c0s0b0n0", ["x1000c0s0b0", "x1000c0s0", "x1000c0", "x1000", "s0"]),
    ("x3000m0p1v12", ["x3000m0p1", "x3000m0", "x3000", "s0"]),
    ("x1000c7r3b0", ["x1000c7r3", "x1000c7", "x1000", "s0"]),
    ("d2w1", ["d2", "s0"]),
    ("x1000", ["s0"]),
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
    assert child_types("NodeBMC") == ["NodeBMCNic", "Node"]
    assert set(child_types("Chassis")) >= {"ChassisBMC", "ComputeModule", "RouterModule",
                                           "MgmtSwitch"}
    assert child_types("Node") == ["Processor", "NodeAccel", "NodeAccelRiser", "Memory",
                                   "NodeHsnNic", "NodeNic", "VirtualNode", "StorageGroup"]
    assert child_types("System") == ["CDU", "Cabinet"]


# Every type of the hardware naming (Cray-HPE/hms-xname): a valid name, and a name that breaks
# one of its number ranges (None where no number is bounded).
EXAMPLES = {
    "System": ("s0", "s1"),
    "CDU": ("d3", None),
    "CDUMgmtSwitch": ("d0w1", None),
    "Cabinet": ("x3000", "x10000"),
    "CabinetBMC": ("x3000b0", "x3000b1"),
    "CabinetCDU": ("x3000d1", "x3000d2"),
    "CEC": ("x3000e1", "x3000e2"),
    "CabinetPDUController": ("x3000m3", "x3000m4"),
    "CabinetPDUNic": ("x3000m0i3", "x3000m0i4"),
    "CabinetPDU": ("x3000m0p7", "x3000m0p8"),
    "CabinetPDUOutlet": ("x3000m0p0j1", "x3000m0p0j0"),
    "CabinetPDUPowerConnector": ("x3000m0p0v1", "x3000m0p0v0"),
    "Chassis": ("x1000c7", "x1000c8"),
    "ChassisBMC": ("x1000c0b0", "x1000c0b1"),
    "ChassisBMCNic": ("x1000c0b0i3", "x1000c0b0i4"),
    "CMMFpga": ("x1000c0f0", "x1000c0f1"),
    "CMMRectifier": ("x1000c0t9", "x1000c0t10"),
    "MgmtSwitch": ("x3000c0w14", "x3000c0w0"),
    "MgmtSwitchConnector": ("x3000c0w14j48", "x3000c0w14j0"),
    "MgmtHLSwitchEnclosure": ("x3000c0h12", "x3000c0h0"),
    "MgmtHLSwitch": ("x3000c0h12s1", "x3000c0h12s10"),
    "ComputeModule": ("x1000c0s7", "x1000c8s7"),
    "NodePowerConnector": ("x1000c0s0v2", "x1000c0s0v3"),
    "NodeEnclosure": ("x1000c0s0e0", "x1000c8s0e0"),
    "NodeEnclosurePowerSupply": ("x1000c0s0e0t1", "x10000c0s0e0t1"),
    "NodeBMC": ("x3000c0s0b0", "x3000c8s0b0"),
    "NodeBMCNic": ("x1000c0s0b0i3", "x1000c0s0b0i4"),
    "NodeFpga": ("x1000c0s0b0f0", "x1000c0s0b0f1"),
    "Node": ("x1000c0s0b0n0", "x1000c8s0b0n0"),
    "Processor": ("x1000c0s0b0n0p3", "x1000c0s0b0n0p4"),
    "NodeAccel": ("x1000c0s0b0n0a0", "x1000c8s0b0n0a0"),
    "NodeAccelRiser": ("x1000c0s0b0n0r7", "x1000c0s0b0n0r8"),
    "Memory": ("x1000c0s0b0n0d12", "x1000c8s0b0n0d12"),
    "NodeHsnNic": ("x1000c0s0b0n0h3", "x1000c0s0b0n0h4"),
    "NodeNic": ("x1000c0s0b0n0i3", "x1000c0s0b0n0i4"),
    "VirtualNode": ("x1000c0s0b0n0v5", "x10000c0s0b0n0v5"),
    "StorageGroup": ("x1000c0s0b0n0g0", "x1000c8s0b0n0g0"),
    "Drive": ("x1000c0s0b0n0g0k1", "x1000c8s0b0n0g0k1"),
    "RouterModule": ("x1000c0r7", "x1000c8r7"),
    "RouterBMC": ("x1000c0r0b0", "x1000c8r0b0"),
    "RouterBMCNic": ("x1000c0r0b0i3", "x1000c0r0b0i4"),
    "RouterFpga": ("x1000c0r0f1", "x1000c0r0f2"),
    "RouterTOR": ("x1000c0r0t0", "x1000c8r0t0"),
    "RouterTORFpga": ("x1000c0r0t0f1", "x1000c0r0t0f2"),
    "RouterPowerConnector": ("x1000c0r0v1", "x1000c0r0v3"),
    "HSNBoard": ("x1000c0r0e0", "x1000c8r0e0"),
    "HSNAsic": ("x1000c0r0a3", "x1000c0r0a4"),
    "HSNLink": ("x1000c0r0a0l7", "x1000c0r0a4l7"),
    "HSNConnector": ("x1000c0r0j1", "x1000c0r0j0"),
    "HSNConnectorPort": ("x1000c0r0j1p2", "x1000c0r0j1p3"),
}


def test_every_type_of_the_grammar_has_examples():
    assert set(EXAMPLES) == {t.type for t in xnames.GRAMMAR}
    assert len(xnames.GRAMMAR) == len(EXAMPLES) == 50


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_each_type_parses_its_valid_example_as_itself(type_):
    parsed = parse(EXAMPLES[type_][0])
    assert parsed is not None and parsed.type == type_
    assert parsed.controllable is (type_ in API_CONTROLLABLE)


@pytest.mark.parametrize("type_", sorted(t for t, (_, bad) in EXAMPLES.items() if bad))
def test_each_type_refuses_a_number_out_of_its_range(type_):
    assert parse(EXAMPLES[type_][1]) is None


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_parent_of_each_example_is_of_the_parent_type(type_):
    parsed = parse(EXAMPLES[type_][0])
    above = xnames.parent(parsed)
    if parent_type(type_) is None:
        assert above is None
    elif type_ == "NodeFpga":   # filed under the enclosure, named under the BMC
        assert (parent_type(type_), above.type) == ("NodeEnclosure", "NodeBMC")
    else:
        assert above.type == parent_type(type_)


@pytest.mark.parametrize("text, expected", [
    ("x1000c0s0b0", "NodeBMC"),          # same letters as the chassis BMC up to "b"
    ("x1000c0b0", "ChassisBMC"),
    ("x1000b0", "CabinetBMC"),
    ("x1000c0s0b0n0d0", "Memory"),       # d after a node, not a cabinet CDU
    ("x1000d0", "CabinetCDU"),
    ("x1000c0r0t0", "RouterTOR"),        # t after a router, not a rectifier
    ("x1000c0t0", "CMMRectifier"),
    ("x1000c0s0e0t0", "NodeEnclosurePowerSupply"),
    ("x1000c0s0j1", "NodePowerConnector"),   # the old letter of the connector
    ("X1000C0S0J01", "NodePowerConnector"),
    ("x1000c0r0j1", "HSNConnector"),
    ("x1000c0r0v1", "RouterPowerConnector"),
    ("x1000c0s0b0n0v0", "VirtualNode"),
    ("x1000c0s0b0n0r0", "NodeAccelRiser"),
    ("x1000c0h1s1", "MgmtHLSwitch"),
    ("x9999", "Cabinet"),
    ("x0c0s0b0n0", "Node"),
])
def test_types_with_overlapping_letters_are_told_apart(text, expected):
    assert parse(text).type == expected


@pytest.mark.parametrize("bad", [
    "x10000c0s0b0n0",      # a cabinet has at most four digits
    "x1000c10s0b0n0",      # chassis c0-c7
    "x1000c0b1",           # one chassis BMC per chassis
    "x3000m0p0v0",         # power connectors count from 1
    "x1000c0s0v0",
    "x3000c0h1s0",         # high-speed switches count from 1
    "x1000c0w0",
    "p1.2", "sms1", "all", "all_comp",   # wildcards and non-hardware names
])
def test_names_outside_the_ranges_do_not_parse(bad):
    assert parse(bad) is None
