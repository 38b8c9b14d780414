"""Faults over real HTTP, per BMC and per node: status, close, hang, down, ignore, slow,
fallback, task and refuse, and what the request log shows of them."""
from __future__ import annotations

import time

import pytest
import requests
from harness import AUTH, RESET, wait_for

from pcs.simulator import bmc_xname

SYS0, SYS1 = "/redfish/v1/Systems/Node0", "/redfish/v1/Systems/Node1"


@pytest.fixture(autouse=False)
def clean_faults(flat_sim):
    yield
    for i in range(4):
        requests.delete(f"{flat_sim.admin}/admin/bmcs/{bmc_xname(i)}/fault", timeout=10)


def _log(s, xname, since):
    entries = requests.get(f"{s.admin}/admin/log", params={"bmc": xname, "since": since},
                           timeout=10).json()["entries"]
    return [(e["method"], e["path"], e["status"], e["fault"]) for e in entries]


def _task_done(s, i, location):
    """Poll a task monitor until it answers 200 (the task has ended); that answer."""
    def ended():
        r = requests.get(s.url(i, location), auth=AUTH, timeout=10)
        return r if r.status_code == 200 else None
    return wait_for(ended, timeout=10, what=f"task {location} to end")


def test_status_fault(flat_sim, clean_faults):
    x = bmc_xname(3)
    r = requests.put(f"{flat_sim.admin}/admin/bmcs/{x}/fault",
                     json={"fault": "status", "status": 503, "message": "Busy now"},
                     timeout=10)
    assert r.status_code == 200
    r = requests.post(flat_sim.url(3, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 503
    assert r.json()["error"]["message"] == "Busy now"
    assert requests.get(flat_sim.url(3, "/redfish/v1/Systems/Node0"), auth=AUTH,
                        timeout=10).status_code == 200
    requests.delete(f"{flat_sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    r = requests.post(flat_sim.url(3, RESET.format("Node0")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 204


def test_hang_fault(flat_sim, clean_faults):
    x = bmc_xname(3)
    requests.put(f"{flat_sim.admin}/admin/bmcs/{x}/fault", json={"fault": "hang"},
                 timeout=10).raise_for_status()
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(flat_sim.url(3, "/redfish/v1/Systems"), auth=AUTH, timeout=0.5)
    with pytest.raises(requests.exceptions.Timeout):
        requests.post(flat_sim.url(3, RESET.format("Node1")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=0.5)
    # other BMCs still answer
    assert requests.get(flat_sim.url(2), timeout=10).status_code == 200
    requests.delete(f"{flat_sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    assert requests.get(flat_sim.url(3, "/redfish/v1/Systems"), auth=AUTH,
                        timeout=10).status_code == 200


def test_down_fault(flat_sim, clean_faults):
    x = bmc_xname(1)
    requests.put(f"{flat_sim.admin}/admin/bmcs/{x}/fault", json={"fault": "down"},
                 timeout=10).raise_for_status()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(flat_sim.url(1), timeout=5)
    assert requests.get(flat_sim.url(0), timeout=10).status_code == 200
    requests.delete(f"{flat_sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    assert requests.get(flat_sim.url(1), timeout=10).status_code == 200


def test_ignore_fault(flat_sim, clean_faults):
    x = bmc_xname(0)
    requests.put(f"{flat_sim.admin}/admin/bmcs/{x}/systems/Node1", json={"PowerState": "Off"},
                 timeout=10).raise_for_status()
    requests.put(f"{flat_sim.admin}/admin/bmcs/{x}/fault", json={"fault": "ignore", "count": 1},
                 timeout=10).raise_for_status()
    r = requests.post(flat_sim.url(0, RESET.format("Node1")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 204
    time.sleep(1.0)
    assert flat_sim.power(0, "Node1") == "Off"
    r = requests.post(flat_sim.url(0, RESET.format("Node1")), auth=AUTH,
                      json={"ResetType": "On"}, timeout=10)
    assert r.status_code == 204
    flat_sim.wait_power(0, "Node1", "On")


@pytest.mark.parametrize("spec, get_status, post_status", [
    ({"status": 503, "retry_after": 2, "message": "BMC busy"}, 200, 503),   # actions only
    ({"status": 409, "message": "Operation in progress", "requests": "actions"}, 200, 409),
    ({"status": 401, "message": "Bad credentials", "requests": "all"}, 401, 401),
    ({"status": 500, "message": "Fan controller fault", "requests": "all"}, 500, 500),
])
def test_status_fault_answers_on_actions_or_all(flat_sim, clean_faults, spec, get_status,
                                                post_status):
    x, since = bmc_xname(3), time.time()
    flat_sim.set_fault(x, fault="status", **spec)
    r = requests.get(flat_sim.url(3, SYS0), auth=AUTH, timeout=10)
    assert r.status_code == get_status
    r = flat_sim.reset(3, "Node0", "Nmi")
    assert r.status_code == post_status
    err = r.json()["error"]
    assert err["message"] == spec["message"]
    assert err["@Message.ExtendedInfo"][0]["MessageId"] == "Base.1.8.GeneralError"
    assert r.headers.get("Retry-After") == ("2" if "retry_after" in spec else None)
    assert ("WWW-Authenticate" in r.headers) == (post_status == 401)
    get_fault = "status" if get_status == spec["status"] else None
    assert _log(flat_sim, x, since) == [("GET", SYS0, get_status, get_fault),
                                   ("POST", RESET.format("Node0"), post_status, "status")]


def test_status_fault_count_is_spent_then_bmc_answers(flat_sim, clean_faults):
    x, since = bmc_xname(3), time.time()
    flat_sim.set_power(bmc_xname(3), "Node1", "Off")
    flat_sim.set_fault(x, fault="status", status=503, retry_after=1, count=2)
    assert [flat_sim.reset(3, "Node1").status_code for _ in range(3)] == [503, 503, 204]
    shown = flat_sim.fault(x)["fault"]
    assert shown == {"fault": "status", "status": 503, "message": "Internal error",
                     "retry_after": 1, "requests": "actions", "count": 2, "remaining": 0,
                     "spent": True}
    assert flat_sim.describe(x)["fault"] == shown
    post = ("POST", RESET.format("Node1"))
    assert _log(flat_sim, x, since) == [(*post, 503, "status"), (*post, 503, "status"),
                                   (*post, 204, None)]


def test_close_fault_drops_the_connection(flat_sim, clean_faults):
    x, since = bmc_xname(3), time.time()
    flat_sim.set_power(bmc_xname(3), "Node0", "Off")
    flat_sim.set_fault(x, fault="close", requests="actions", count=1)
    assert requests.get(flat_sim.url(3, SYS0), auth=AUTH, timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError,
                       match="RemoteDisconnected|Connection aborted|reset"):
        flat_sim.reset(3, "Node0")
    assert flat_sim.power(3, "Node0") == "Off"
    assert flat_sim.reset(3, "Node0").status_code == 204   # count spent
    assert flat_sim.fault(x)["fault"]["spent"] is True
    flat_sim.set_fault(x, fault="close")                    # default: every request
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(flat_sim.url(3), timeout=10)
    post = ("POST", RESET.format("Node0"))
    assert _log(flat_sim, x, since) == [("GET", SYS0, 200, None), (*post, 0, "close"),
                                   ("GET", SYS0, 200, None), (*post, 204, None),
                                   ("GET", "/redfish/v1/", 0, "close")]


def test_hang_fault_on_actions_is_logged_while_it_hangs(flat_sim, clean_faults):
    x, since = bmc_xname(3), time.time()
    flat_sim.set_power(bmc_xname(3), "Node1", "On")
    flat_sim.set_fault(x, fault="hang", requests="actions", count=1)
    assert requests.get(flat_sim.url(3, SYS1), auth=AUTH, timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.Timeout):
        flat_sim.reset(3, "Node1", "Nmi", timeout=0.5)
    post = ("POST", RESET.format("Node1"))
    assert _log(flat_sim, x, since) == [("GET", SYS1, 200, None), (*post, 0, "hang")]
    assert flat_sim.reset(3, "Node1", "Nmi").status_code == 204   # count spent: answers
    assert flat_sim.fault(x)["fault"] == {"fault": "hang", "requests": "actions",
                                           "count": 1, "remaining": 0, "spent": True}
    assert _log(flat_sim, x, since)[1] == (*post, 0, "hang")          # the first still hangs
    requests.delete(f"{flat_sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    # released by the DELETE, the hung request gets the BMC's answer (its client is gone)
    wait_for(lambda: _log(flat_sim, x, since)[1] == (*post, 204, "hang"), timeout=10,
             what="the released request's answer in the log")


def test_node_fault_covers_only_that_node(flat_sim, clean_faults):
    x, since = bmc_xname(2), time.time()
    flat_sim.set_power(bmc_xname(2), "Node0", "Off")
    r = requests.put(f"{flat_sim.admin}/admin/bmcs/{x}n1/fault",
                     json={"fault": "status", "status": 500, "requests": "all"}, timeout=10)
    assert r.json() == {"xname": f"{x}n1", "fault": {
        "fault": "status", "status": 500, "message": "Internal error", "requests": "all",
        "systems": ["Node1"]}}
    refuse = flat_sim.set_fault(f"{x}n0", fault="refuse", reset_types=["Nmi"])
    assert [f["fault"] for f in flat_sim.fault(x)["faults"]] == ["status", "refuse"]
    assert flat_sim.fault(f"{x}n0") == {"xname": f"{x}n0", "fault": refuse}
    def get(path):
        return requests.get(flat_sim.url(2, path), auth=AUTH, timeout=10)

    assert get(SYS1).status_code == 500
    assert get(SYS1 + "/").status_code == 500
    assert get(SYS0).status_code == 200
    assert get("/redfish/v1/Systems").status_code == 200
    assert flat_sim.reset(2, "Node1").status_code == 500
    assert flat_sim.reset(2, "Node0").status_code == 204
    assert flat_sim.reset(2, "Node0", "Nmi").status_code == 400
    requests.delete(f"{flat_sim.admin}/admin/bmcs/{x}n1/fault", timeout=10).raise_for_status()
    assert get(SYS1).status_code == 200
    assert flat_sim.fault(x)["faults"] == [refuse]
    assert [(m, p, s) for m, p, s, _ in _log(flat_sim, x, since)] == [
        ("GET", SYS1, 500), ("GET", SYS1 + "/", 500), ("GET", SYS0, 200),
        ("GET", "/redfish/v1/Systems", 200), ("POST", RESET.format("Node1"), 500),
        ("POST", RESET.format("Node0"), 204), ("POST", RESET.format("Node0"), 400),
        ("GET", SYS1, 200)]


def test_ignore_fault_per_node(flat_sim, clean_faults):
    x, since = bmc_xname(1), time.time()
    for node in ("Node0", "Node1"):
        flat_sim.set_power(bmc_xname(1), node, "Off")
    flat_sim.set_fault(f"{x}n1", fault="ignore", count=1)
    assert flat_sim.reset(1, "Node1").status_code == 204     # swallowed
    assert flat_sim.reset(1, "Node0").status_code == 204     # the other node is not covered
    flat_sim.wait_power(1, "Node0", "On")
    assert flat_sim.power(1, "Node1") == "Off"
    assert flat_sim.fault(f"{x}n1")["fault"]["spent"] is True
    assert flat_sim.reset(1, "Node1").status_code == 204
    flat_sim.wait_power(1, "Node1", "On")
    posts = [e for e in _log(flat_sim, x, since) if e[0] == "POST"]
    assert posts == [("POST", RESET.format("Node1"), 204, "ignore"),
                     ("POST", RESET.format("Node0"), 204, None),
                     ("POST", RESET.format("Node1"), 204, None)]


def test_slow_fault_per_node(flat_sim, clean_faults):
    x = bmc_xname(1)
    for node in ("Node0", "Node1"):
        flat_sim.set_power(bmc_xname(1), node, "Off")
    flat_sim.set_fault(f"{x}n0", fault="slow", delay=4)
    assert flat_sim.reset(1, "Node0").status_code == 204
    assert flat_sim.reset(1, "Node1").status_code == 204
    flat_sim.wait_power(1, "Node1", "On")          # the fleet's 0.5 s
    assert flat_sim.power(1, "Node0") == "PoweringOn"     # still on its way (4 s)
    flat_sim.wait_power(1, "Node0", "On")


def test_fallback_fault_drops_to_off_after_on(flat_sim, clean_faults):
    x, since = bmc_xname(0), time.time()
    for node in ("Node0", "Node1"):
        flat_sim.set_power(bmc_xname(0), node, "Off")
    flat_sim.set_fault(x, fault="fallback", after=1.5)
    assert flat_sim.reset(0, "Node0").status_code == 204
    flat_sim.wait_power(0, "Node0", "On")
    flat_sim.wait_power(0, "Node0", "Off")
    assert flat_sim.reset(0, "Node0", "ForceRestart").status_code == 204   # on-phase too
    flat_sim.wait_power(0, "Node0", "On")
    flat_sim.wait_power(0, "Node0", "Off")
    seen = [e for e in requests.get(f"{flat_sim.admin}/admin/log",
                                    params={"bmc": x, "since": since}, timeout=10
                                    ).json()["entries"] if e["method"] == "GET"]
    assert all(e["status"] == 200 for e in seen)
    requests.delete(f"{flat_sim.admin}/admin/bmcs/{x}/fault", timeout=10).raise_for_status()
    assert flat_sim.reset(0, "Node1").status_code == 204
    flat_sim.wait_power(0, "Node1", "On")
    assert flat_sim.describe(x)["systems"]["Node1"] == "On"


def test_task_fault_completes_and_applies_the_reset(flat_sim, clean_faults):
    x, since = bmc_xname(2), time.time()
    flat_sim.set_power(bmc_xname(2), "Node1", "Off")
    flat_sim.set_fault(x, fault="task", duration=1.5)
    r = flat_sim.reset(2, "Node1")
    assert r.status_code == 202
    location = r.headers["Location"]
    assert location.startswith("/redfish/v1/TaskService/Tasks/")
    task = r.json()
    assert task["@odata.type"] == "#Task.v1_4_3.Task" and task["@odata.id"] == location
    assert (task["TaskState"], task["TaskStatus"], task["Messages"]) == ("Running", "OK", [])
    assert task["TaskMonitor"] == location and task["Id"] == location.rsplit("/", 1)[1]
    assert task["Payload"]["TargetUri"] == RESET.format("Node1")
    monitor = requests.get(flat_sim.url(2, location), auth=AUTH, timeout=10)
    assert monitor.status_code == 202 and monitor.json()["TaskState"] == "Running"
    assert flat_sim.power(2, "Node1") == "Off"            # nothing applied while it runs
    done = _task_done(flat_sim, 2, location)
    assert (done.json()["TaskState"], done.json()["TaskStatus"]) == ("Completed", "OK")
    flat_sim.wait_power(2, "Node1", "On")
    service = requests.get(flat_sim.url(2, "/redfish/v1/TaskService"), auth=AUTH, timeout=10)
    assert service.json()["Tasks"] == {"@odata.id": "/redfish/v1/TaskService/Tasks"}
    tasks = requests.get(flat_sim.url(2, "/redfish/v1/TaskService/Tasks"), auth=AUTH,
                         timeout=10).json()
    assert {"@odata.id": location} in tasks["Members"]
    missing = requests.get(flat_sim.url(2, "/redfish/v1/TaskService/Tasks/999"), auth=AUTH,
                           timeout=10)
    assert missing.status_code == 404
    assert (missing.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"]
            == "Base.1.8.ResourceMissingAtURI")
    log = [e for e in _log(flat_sim, x, since) if e[0] == "POST" or "TaskService" in e[1]]
    assert log[0] == ("POST", RESET.format("Node1"), 202, "task")
    monitors = [e[2] for e in log if e[1] == location]
    assert monitors[0] == 202 and monitors[-1] == 200 and set(monitors) == {200, 202}
    assert monitors == sorted(monitors, reverse=True)   # 202s, then 200s


def test_task_fault_exception_changes_nothing(flat_sim, clean_faults):
    x = bmc_xname(2)
    flat_sim.set_power(bmc_xname(2), "Node0", "Off")
    flat_sim.set_fault(f"{x}n0", fault="task", duration=0.5, outcome="exception",
               message="Power supply fault")
    assert flat_sim.reset(2, "Node1", "Nmi").status_code == 204   # the other node: no task
    r = flat_sim.reset(2, "Node0")
    assert r.status_code == 202
    location = r.headers["Location"]
    done = _task_done(flat_sim, 2, location).json()
    assert (done["TaskState"], done["TaskStatus"]) == ("Exception", "Critical")
    assert done["Messages"][0]["MessageId"] == "Base.1.8.GeneralError"
    assert done["Messages"][0]["Message"] == "Power supply fault"
    # a completed task would have started the On when it ended: PoweringOn (0.5 s) by now
    assert flat_sim.power(2, "Node0") == "Off"
    assert flat_sim.describe(x)["systems"]["Node0"] == "Off"


def test_refuse_fault_keeps_the_value_advertised(flat_sim, clean_faults):
    x, since = bmc_xname(0), time.time()
    flat_sim.set_fault(x, fault="refuse", reset_types=["Nmi", "GracefulRestart"])
    node = requests.get(flat_sim.url(0, SYS1), auth=AUTH, timeout=10).json()
    allowed = node["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"]
    assert "Nmi" in allowed and "GracefulRestart" in allowed
    r = flat_sim.reset(0, "Node1", "Nmi")
    assert r.status_code == 400
    info = r.json()["error"]["@Message.ExtendedInfo"][0]
    assert info["MessageId"] == "Base.1.8.ActionParameterNotSupported"
    assert info["Message"] == "The parameter ResetType with value 'Nmi' is not supported."
    assert flat_sim.reset(0, "Node1", "ForceOff").status_code == 204
    post = ("POST", RESET.format("Node1"))
    assert _log(flat_sim, x, since) == [("GET", SYS1, 200, None), (*post, 400, "refuse"),
                                   (*post, 204, None)]
