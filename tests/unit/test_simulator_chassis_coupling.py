"""The simulator's chassis hierarchy (pure): chassis BMCs, blade and enclosure power coupled to
the node BMCs they hold, Manager resets and allowable ResetType values."""
from __future__ import annotations

import pytest

from pcs.simulator.fleet import EnclosureOff, Fleet, FleetError, Unreachable


def _hfleet(bmcs=12, **kw):
    kw = {"nodes_per_bmc": 2, "port_base": 5000, "initial_state": "on",
          "power_delay_s": 1.0, "chassis_bmcs": True, "bmc_boot_delay_s": 5.0, **kw}
    return Fleet(bmcs, **kw)


def test_hierarchy_layout_and_inventory():
    f = _hfleet()
    assert [(c.xname, c.port, sorted(c.blades)) for c in f.chassis_bmcs] == [
        ("x1000c0b0", 5012, list(range(8))), ("x1000c1b0", 5013, [0, 1, 2, 3])]
    assert f.chassis_states(f.chassis_bmcs[1], 0.0) == {
        "Enclosure": "On", "Blade0": "On", "Blade1": "On", "Blade2": "On", "Blade3": "On"}
    inv = f.inventory("h", "u", "p")
    assert [i["type"] for i in inv] == ["NodeBMC"] * 12 + ["ChassisBMC"] * 2
    assert inv[12] == {"xname": "x1000c0b0", "address": "h:5012", "scheme": "http",
                       "username": "u", "password": "p", "verifyTls": False, "nodes": [],
                       "type": "ChassisBMC"}
    d = f.describe(0.0)
    assert d[13]["chassis"]["Blade3"] == "On" and d[13]["type"] == "ChassisBMC"
    assert d[0]["powered"] is True and d[0]["type"] == "NodeBMC" and "chassis" not in d[0]
    assert Fleet(3).chassis_bmcs == [] and not Fleet(3).hierarchy


def test_blade_off_then_on_couples_node_bmc():
    f = _hfleet()
    nb, x = f.bmcs[9], "x1000c1b0"   # node BMC x1000c1s1b0 sits in Blade1 of chassis c1
    f.reset_chassis(x, "Blade1", "ForceOff", 10.0)
    assert f.chassis_states(f.chassis_bmc(x), 10.5)["Blade1"] == "PoweringOff"
    assert f.reachable(nb, 10.5) and f.power_states(nb.xname, 10.5)["Node0"] == "On"
    assert f.power_states(nb.xname, 11.0) == {"Node0": "Off", "Node1": "Off"}
    assert not nb.powered and not f.reachable(nb, 11.0)
    assert f.describe_bmc(nb, 11.0)["powered"] is False
    with pytest.raises(Unreachable):
        f.reset(nb.xname, "Node0", "On", 12.0)
    assert f.reachable(f.bmcs[8], 12.0)   # the neighbour slot is untouched
    f.reset_chassis(x, "Blade1", "On", 20.0)
    assert not f.reachable(nb, 20.9)
    assert nb.powered is False
    assert f.reachable(nb, 21.0) is False and nb.powered is True   # booting until 26
    assert f.reachable(nb, 25.9) is False and f.reachable(nb, 26.0) is True
    assert f.power_states(nb.xname, 26.0) == {"Node0": "Off", "Node1": "Off"}
    assert f.reset(nb.xname, "Node0", "On", 27.0) is True


def test_enclosure_off_turns_every_blade_off():
    f = _hfleet()
    x = "x1000c1b0"
    f.reset_chassis(x, "Enclosure", "ForceOff", 0.0)
    assert f.chassis_states(f.chassis_bmc(x), 0.5)["Blade0"] == "On"
    states = f.chassis_states(f.chassis_bmc(x), 1.0)
    assert set(states.values()) == {"Off"}
    assert all(not b.powered for b in f.bmcs[8:12]) and all(b.powered for b in f.bmcs[:8])
    with pytest.raises(EnclosureOff, match="Enclosure is powered off"):
        f.reset_chassis(x, "Blade0", "On", 2.0)
    f.reset_chassis(x, "Enclosure", "On", 3.0)
    with pytest.raises(EnclosureOff):   # still PoweringOn
        f.reset_chassis(x, "Blade0", "On", 3.5)
    states = f.chassis_states(f.chassis_bmc(x), 4.0)
    assert states["Enclosure"] == "On" and states["Blade0"] == "Off"
    assert not f.reachable(f.bmcs[8], 100.0)   # blades need their own On
    f.reset_chassis(x, "Blade0", "On", 100.0)
    assert f.reachable(f.bmcs[8], 106.0) and not f.reachable(f.bmcs[9], 106.0)


def test_coupling_settles_in_time_order():
    f = _hfleet(power_delay_s=0.0)
    x = "x1000c1b0"
    f.set_chassis_power(x, "Blade2", "Off", 0.0)   # admin: immediate, coupled
    assert not f.bmcs[10].powered
    f.power_delay_s = 1.0
    f.reset_chassis(x, "Blade2", "On", 10.0)       # settles at 11
    f.power_delay_s = 3.0
    f.reset_chassis(x, "Enclosure", "ForceOff", 10.0)   # settles at 13
    assert f.chassis_states(f.chassis_bmc(x), 12.0)["Blade2"] == "On"
    assert f.bmcs[10].powered
    assert f.chassis_states(f.chassis_bmc(x), 13.0)["Blade2"] == "Off"
    assert not f.bmcs[10].powered
    f.set_chassis_power(x, "Enclosure", "On", 20.0)
    f.power_delay_s = 0.0
    f.reset_chassis(x, "Blade3", "ForceOff", 21.0)   # zero delay: couples at once
    assert not f.bmcs[11].powered
    f.reset_chassis(x, "Enclosure", "ForceOff", 22.0)
    assert f.chassis_states(f.chassis_bmc(x), 22.0)["Blade0"] == "Off"
    f.reset_chassis(x, "Enclosure", "On", 23.0)
    with pytest.raises(FleetError):
        f.set_chassis_power(x, "Blade9", "On", 20.0)
    with pytest.raises(FleetError):
        f.set_power(f.bmcs[10].xname, "Node0", "On", 20.0)   # its BMC has no power


def test_manager_reset_and_allowable_values():
    f = _hfleet()
    f.manager_reset("x1000c0b0", 10.0)
    cb = f.chassis_bmc("x1000c0b0")
    assert not f.reachable(cb, 14.9) and f.reachable(cb, 15.0)
    f.manager_reset(f.bmcs[0].xname, 10.0)
    assert not f.reachable(f.bmcs[0], 12.0)
    assert f.power_states(f.bmcs[0].xname, 12.0)["Node0"] == "On"   # nodes keep power
    flat = Fleet(2)
    flat.manager_reset(flat.bmcs[0].xname, 10.0)   # flat mode: no reboot window
    assert flat.reachable(flat.bmcs[0], 10.0)
    assert flat.allowable(flat.bmcs[0])[:2] == ["On", "ForceOff"]
    assert flat.set_allowable(flat.bmcs[1].xname, ["On", "ForceOff", "On"]) == ["On", "ForceOff"]
    assert flat.allowable(flat.bmcs[1]) == ["On", "ForceOff"]
    assert len(flat.set_allowable(flat.bmcs[1].xname, None)) == 7
    for bad in (["Explode"], [], "On", [1]):
        with pytest.raises(FleetError):
            flat.set_allowable(flat.bmcs[0].xname, bad)
    with pytest.raises(FleetError):   # chassis understand On/Off types only
        f.set_allowable("x1000c0b0", ["ForceRestart"])
    one = Fleet(1, reset_types=["On", "Off"])
    assert one.allowable(one.bmcs[0]) == ["On", "Off"]
    with pytest.raises(FleetError):
        Fleet(1, reset_types=["Bogus"])
