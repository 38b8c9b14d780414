"""The `pcs` CLI against a running stack: the API over real HTTP (gunicorn), a celery worker,
PostgreSQL, Redis and simulated BMCs. Commands run through Typer's runner and, where the
terminal matters, as real processes."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness import Simulator, free_port_block, wait_for
from pcs.cli.client import PcsClient
from pcs.cli.main import cli
from pcs.cli.targets import fold
from pcs.simulator import bmc_xname

pytestmark = pytest.mark.integration

PCS = str(Path(sys.executable).parent / "pcs")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BMCS = 100                      # two nodes each: 200 nodes
ALL_NODES = ["x5000c[0-5]s[0-15]b0n[0-1]", "x5000c6s[0-3]b0n[0-1]"]
END_LINE = re.compile(r"^(x\S+) (succeeded|failed|unsupported)\b")


def registered_xname(i: int) -> str:
    """The simulator's BMC i registered under cabinet x5000, clear of the session's fleet; 16
    slots per chassis keep 100 BMCs within the chassis range c0-c7."""
    return f"x5000c{i // 16}s{i % 16}b0"


class Cluster:
    def __init__(self, sim: Simulator, url: str):
        self.sim, self.url = sim, url

    def pcs(self, *args: str, env: dict | None = None):
        """`pcs ARGS --url <api>` through Typer's runner (not a terminal unless env says)."""
        return CliRunner().invoke(cli, [*args, "--url", self.url], env=env)

    def sim_bmc(self, registered: str) -> str:
        """The simulator's own name of a BMC registered as x5000c<C>s<S>b0."""
        c, s = re.fullmatch(r"x5000c(\d+)s(\d+)b0", registered).groups()
        return bmc_xname(int(c) * 16 + int(s))


@pytest.fixture(scope="module")
def cluster(api_server, worker):
    """100 simulated BMCs (200 nodes) registered through `pcs inventory add-bmc`."""
    sim = Simulator(bmcs=BMCS, nodes_per_bmc=2, power_delay_s=0.3)
    here = Cluster(sim, api_server.url)
    registered = []
    try:
        for i in range(BMCS):
            result = here.pcs("inventory", "add-bmc", registered_xname(i), sim.address(i),
                              "--scheme", "http", "--no-verify-tls", "--password", sim.password)
            assert result.exit_code == 0, result.output
            registered.append(registered_xname(i))
        yield here
    finally:
        if registered:
            here.pcs("inventory", "remove", fold(registered))
        sim.stop()


def end_lines(output: str) -> list[str]:
    """xnames of the one-line-per-finished-component output, in order."""
    return [m.group(1) for m in map(END_LINE.match, output.splitlines()) if m]


def test_power_on_of_200_nodes_shows_progress_and_exits_0(cluster):
    result = cluster.pcs("power", "on", *ALL_NODES,
                         env={"TTY_COMPATIBLE": "1", "COLUMNS": "200"})   # a terminal
    screen = ANSI.sub("", result.stdout)
    assert result.exit_code == 0, screen
    assert "200/200" in screen
    assert "200 succeeded  0 failed  0 in progress  0 queued" in screen
    assert re.search(r"\d+\.\d/s  eta \d+:\d\d", screen)            # rate and time left
    assert "200 components: 200 succeeded" in screen
    assert "failed (" not in screen


def test_bmcs_refusing_give_exit_1_and_a_summary_naming_the_failures(cluster):
    nodes = [f"x5000c0s{s}b0n{n}" for s in range(4) for n in range(2)]
    for s in range(4):
        for node in ("Node0", "Node1"):
            cluster.sim.set_power(cluster.sim_bmc(f"x5000c0s{s}b0"), node, "On")
    refusing = [cluster.sim_bmc("x5000c0s1b0"), cluster.sim_bmc("x5000c0s2b0")]
    for bmc in refusing:
        cluster.sim.set_fault(bmc, fault="status", status=500, message="Fan controller fault")
    try:
        result = cluster.pcs("power", "force-off", "x5000c0s[0-3]b0n[0-1]")
    finally:
        for bmc in refusing:
            cluster.sim.clear_fault(bmc)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert sorted(end_lines(result.stdout)) == nodes            # plain: one line per node
    assert "x5000c0s1b0n0 failed: Failed to apply transition, forceoff: BMC answered 500" \
        in result.stdout
    assert "8 components: 4 succeeded, 4 failed" in lines
    failure = [line for line in lines if line.startswith("failed (")]
    assert len(failure) == 1
    assert re.fullmatch(r"failed \(4\): x5000c0s\[1-2\]b0n\[0-1\]: "
                        r"BMC answered 500 Internal Server Error.*Fan controller fault",
                        failure[0]), failure


def test_piped_pcs_power_prints_plain_lines_and_keeps_the_token_secret(cluster):
    for s in (0, 1):
        for node in ("Node0", "Node1"):
            cluster.sim.set_power(cluster.sim_bmc(f"x5000c1s{s}b0"), node, "Off")
    token = f"tok-{uuid.uuid4().hex}"
    done = subprocess.run([PCS, "power", "on", "x5000c1s[0-1]b0n[0-1]", "--url", cluster.url],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PCS_TOKEN": token})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"Transition [0-9a-f-]{36}: On of 4 components", lines[0])
    assert sorted(end_lines(done.stdout)) == [f"x5000c1s{s}b0n{n}" for s in (0, 1)
                                             for n in (0, 1)]
    assert "x5000c1s0b0n0 succeeded: Transition confirmed, on" in lines
    assert lines[-1] == "4 components: 4 succeeded"
    assert "\x1b[" not in done.stdout                               # no animation, no colour
    assert token not in done.stdout + done.stderr


def test_status_shows_stored_power_state_with_filters(cluster):
    assert cluster.pcs("power", "on", "x5000c2s0b0n[0-1]", "--quiet").exit_code == 0
    found = json.loads(cluster.pcs("status", "x5000c2s0b0n[0-1]", "--json").stdout)["status"]
    assert [(s["xname"], s["powerState"]) for s in found] == [("x5000c2s0b0n0", "on"),
                                                              ("x5000c2s0b0n1", "on")]
    off = cluster.pcs("status", "x5000c2s0b0n[0-1]", "--power-state", "off", "--json")
    assert json.loads(off.stdout)["status"] == []
    table = cluster.pcs("status", "x5000c2s0b0n[0-1]")
    assert table.exit_code == 0 and "x5000c2s0b0n1" in table.stdout
    assert table.stdout.splitlines()[-1] == "2 components: 2 on"
    summary = cluster.pcs("status", "x5000c2s0b0n[0-1]", "--summary")
    assert re.search(r"on\s+available\s+2\s+x5000c2s0b0n\[0-1\]", summary.stdout), summary.stdout


def test_queue_show_list_and_abort(cluster):
    bmc = cluster.sim_bmc("x5000c3s0b0")
    cluster.sim.set_power(bmc, "Node0", "Off")
    cluster.sim.set_fault(bmc, fault="ignore", count=1000)   # resets accepted, never done
    try:
        first = cluster.pcs("power", "on", "x5000c3s0b0n0", "--deadline", "-1", "--no-wait")
        second = cluster.pcs("power", "off", "x5000c3s0b0n0", "--no-wait")
        first_id, second_id = first.stdout.strip(), second.stdout.strip()
        assert uuid.UUID(first_id) and uuid.UUID(second_id)

        def queue():
            q = json.loads(cluster.pcs("queue", "x5000c3s0b0n0", "--json").stdout)["queues"]
            return q if q and q[0]["active"] and q[0]["active"]["taskStatus"] == "in-progress" \
                else None
        q = wait_for(queue, timeout=30, what="the first transition to hold the node")[0]
        assert q["active"]["transitionID"] == first_id
        assert [(w["position"], w["transitionID"]) for w in q["queued"]] == [(1, second_id)]
        table = cluster.pcs("queue", "x5000c3s0b0n0").stdout
        assert first_id in table and f"1. Off {second_id}" in table

        shown = cluster.pcs("transitions", "show", second_id).stdout
        assert f"Transition {second_id} (Off): " in shown
        assert f"Queued behind transition {first_id} (position 1)" in shown
        listed = json.loads(cluster.pcs("transitions", "list", "--json").stdout)
        assert {first_id, second_id} <= {t["transitionID"] for t in listed["transitions"]}
        assert first_id in cluster.pcs("transitions", "list").stdout

        for transition_id in (second_id, first_id):
            aborted = cluster.pcs("transitions", "abort", transition_id)
            assert aborted.exit_code == 0
            assert aborted.stdout.strip() == f"{transition_id}: Accepted - abort initiated"
        watched = cluster.pcs("transitions", "watch", first_id, "--json")
    finally:
        cluster.sim.clear_fault(bmc)
    assert watched.exit_code == 1
    doc = json.loads(watched.stdout)
    assert doc["transitionStatus"] == "aborted"
    assert [(f["xname"], f["error"]) for f in doc["failures"]] == [
        ("x5000c3s0b0n0", "Transition aborted")]


def test_locked_components_fail_at_once_and_json_lists_them(cluster):
    added = cluster.pcs("locks", "add", "x5000c3s1b0n[0-1]", "--reason", "fan swap")
    try:
        assert added.exit_code == 0 and added.stdout.strip() == "locked 2: x5000c3s1b0n[0-1]"
        locks = json.loads(cluster.pcs("locks", "list", "--json").stdout)["locks"]
        assert {("x5000c3s1b0n0", "fan swap"), ("x5000c3s1b0n1", "fan swap")} <= {
            (lock["xname"], lock["reason"]) for lock in locks}
        assert "fan swap" in cluster.pcs("locks", "list").stdout
        result = cluster.pcs("power", "on", "x5000c3s1b0n[0-1]", "x5000c3s2b0n0", "--json")
    finally:
        removed = cluster.pcs("locks", "remove", "x5000c3s1b0n[0-1]")
    assert removed.stdout.strip() == "unlocked 2: x5000c3s1b0n[0-1]"
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["taskCounts"]["total"] == 3 and doc["taskCounts"]["succeeded"] == 1
    assert doc["failureGroups"] == [{"taskStatus": "failed", "error": "Unable to reserve component",
                                     "count": 2, "xnames": "x5000c3s1b0n[0-1]"}]
    locks = json.loads(cluster.pcs("locks", "list", "--json").stdout)["locks"]
    assert not {"x5000c3s1b0n0", "x5000c3s1b0n1"} & {lock["xname"] for lock in locks}


def test_inventory_lists_removes_and_registers_again(cluster):
    bmcs = json.loads(cluster.pcs("inventory", "list", "--json").stdout)["bmcs"]
    mine = {b["xname"]: b for b in bmcs if b["xname"].startswith("x5000")}
    assert len(mine) == BMCS and "password" not in json.dumps(bmcs)
    assert "x5000c6s3b0n[0-1]" in cluster.pcs("inventory", "list").stdout
    components = json.loads(cluster.pcs("inventory", "list", "--components", "--json").stdout)
    assert {"x5000c6s3b0n0", "x5000c6s3b0n1"} <= {c["xname"] for c in components["components"]}

    removed = cluster.pcs("inventory", "remove", "x5000c6s3b0")
    assert removed.exit_code == 0 and removed.stdout.strip() == "removed 1: x5000c6s3b0"
    again = cluster.pcs("inventory", "remove", "x5000c6s3b0")
    assert again.exit_code == 2 and "404" in again.stderr
    added = cluster.pcs("inventory", "add-bmc", "x5000c6s3b0", mine["x5000c6s3b0"]["address"],
                        "--scheme", "http", "--no-verify-tls", "--password",
                        cluster.sim.password)
    assert added.exit_code == 0, added.output
    assert "x5000c6s3b0n[0-1]" in added.stdout and cluster.sim.password not in added.stdout
    duplicate = cluster.pcs("inventory", "add-bmc", "x5000c6s3b0", mine["x5000c6s3b0"]["address"],
                            "--scheme", "http", "--password", cluster.sim.password)
    assert duplicate.exit_code == 2
    assert "409 Conflict: BMC x5000c6s3b0 is already registered" in duplicate.stderr


def test_errors_are_one_line_and_exit_2(cluster):
    closed = f"http://127.0.0.1:{free_port_block(1)}"
    down = CliRunner().invoke(cli, ["power", "on", "x5000c0s0b0n0", "--url", closed])
    assert down.exit_code == 2
    assert down.stderr == f"error: cannot reach the PCS API at {closed}: connection refused\n"
    bad_id = cluster.pcs("transitions", "show", "not-a-uuid")
    assert bad_id.exit_code == 2
    assert "400 Bad Request: invalid UUID length: 10" in bad_id.stderr
    unknown = cluster.pcs("transitions", "watch", str(uuid.uuid4()))
    assert unknown.exit_code == 2 and "404 Not Found" in unknown.stderr
    bad_range = cluster.pcs("power", "on", "x5000c0s[0-1b0n0")
    assert bad_range.exit_code == 2
    assert "'x5000c0s[0-1b0n0' is not an xname or hostlist range" in bad_range.stderr
    assert "Traceback" not in down.output + bad_id.output + unknown.output + bad_range.output


def test_ctrl_c_while_watching_leaves_the_transition_running(cluster):
    bmc = cluster.sim_bmc("x5000c3s2b0")
    cluster.sim.set_power(bmc, "Node1", "Off")
    cluster.sim.set_fault(bmc, fault="ignore", count=1000)
    transition_id = cluster.pcs("power", "on", "x5000c3s2b0n1", "--deadline", "-1",
                                "--no-wait").stdout.strip()
    try:
        watcher = subprocess.Popen([PCS, "transitions", "watch", transition_id, "--url",
                                    cluster.url], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            assert watcher.stdout.readline().strip() == f"Watching transition {transition_id}"
            watcher.send_signal(signal.SIGINT)
            out, err = watcher.communicate(timeout=30)
        finally:
            if watcher.poll() is None:
                watcher.kill()
        assert watcher.returncode == 130
        assert (f"Transition {transition_id} keeps running; watch it again with: "
                f"pcs transitions watch {transition_id}") in err
        assert "Traceback" not in err
        still = json.loads(cluster.pcs("transitions", "show", transition_id, "--json").stdout)
        assert still["transitionStatus"] == "in-progress"
    finally:
        cluster.pcs("transitions", "abort", transition_id)
        cluster.sim.clear_fault(bmc)


# -- the event stream ---------------------------------------------------------------------------
def stream_until_end(url: str, transition_id: str, last_event_id: int | None = None) -> list:
    client = PcsClient(url)
    try:
        events = []
        for event in client.transition_events(transition_id, last_event_id):
            events.append(event)
            if event.event == "end":
                return events
        raise AssertionError("the stream closed before its end event")
    finally:
        client.close()


def test_resume_after_an_event_id_replays_exactly_the_later_events(cluster):
    transition_id = cluster.pcs("power", "on", "x5000c4s[0-3]b0n[0-1]", "--no-wait").stdout.strip()
    history = stream_until_end(cluster.url, transition_id)
    stored = [(int(e.id), e) for e in history if e.id is not None]
    ids = [i for i, _ in stored]
    assert len(ids) == len(set(ids)) and len(ids) >= 9      # a transition event + 8 tasks
    cut = ids[len(ids) // 2]
    later = [int(e.id) for e in stream_until_end(cluster.url, transition_id, cut)
             if e.id is not None]
    assert later == [i for i in ids if i > cut]              # each missed event, once

    ended_after_cut = {e.json()["xname"] for i, e in stored if i > cut and e.event == "task"
                       and e.json()["taskStatus"] in ("succeeded", "failed", "unsupported")}
    resumed = cluster.pcs("transitions", "watch", transition_id, "--since-event", str(cut))
    assert resumed.exit_code == 0, resumed.output
    printed = end_lines(resumed.stdout)
    assert sorted(printed) == sorted(ended_after_cut) and len(printed) == len(set(printed))


class Proxy:
    """A TCP proxy in front of the API that records every request head. `cut_at`: cut the
    first event stream in the middle of its n-th stored event, as a dropped link would.
    `without_streams`: answer event-stream requests 404, as a server without them does."""

    def __init__(self, upstream_url: str, cut_at: int | None = None,
                 without_streams: bool = False):
        self.upstream = ("127.0.0.1", int(upstream_url.rsplit(":", 1)[1]))
        self.cut_at, self.without_streams = cut_at, without_streams
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sent: list[bytearray] = []       # per connection: what the client sent
        self.answered: list[bytearray] = []   # per connection: what reached the client
        self.cut = False
        self._armed = cut_at is not None
        threading.Thread(target=self._accept, daemon=True).start()

    def requests(self) -> list[tuple[str, dict]]:
        """(request line, headers) of every request, in connection order."""
        out = []
        for sent in self.sent:
            for head in bytes(sent).split(b"\r\n\r\n"):
                lines = head.decode(errors="replace").split("\r\n")
                if lines[0]:
                    out.append((lines[0], {k.strip().lower(): v.strip() for k, _, v in
                                           (line.partition(":") for line in lines[1:])}))
        return out

    def stop(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        sent, answered = bytearray(), bytearray()
        self.sent.append(sent)
        self.answered.append(answered)
        while b"\r\n\r\n" not in sent:     # the first request head (GETs have no body)
            data = client.recv(65536)
            if not data:
                client.close()
                return
            sent += data
        stream = b"/events" in bytes(sent).split(b"\r\n")[0]
        if stream and self.without_streams:
            body = json.dumps({"type": "about:blank", "title": "Not Found", "status": 404,
                               "detail": "The requested URL was not found on the server."})
            client.sendall(b"HTTP/1.1 404 NOT FOUND\r\nContent-Type: application/problem+json"
                           b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                           % (len(body), body.encode()))
            client.close()
            return
        cut, self._armed = (self._armed, False) if stream else (False, self._armed)
        upstream = socket.create_connection(self.upstream)
        upstream.sendall(bytes(sent))
        threading.Thread(target=self._pump, args=(client, upstream, sent, False),
                         daemon=True).start()
        self._pump(upstream, client, answered, cut)

    def _pump(self, src, dst, record: bytearray, cut: bool) -> None:
        try:
            while data := src.recv(65536):
                if cut:
                    starts = [m.start() for m in re.finditer(rb"\nid: ", bytes(record) + data)]
                    if len(starts) >= self.cut_at:
                        stop = starts[self.cut_at - 1] + 6 - len(record)   # inside the id line
                        dst.sendall(data[:stop])
                        record += data[:stop]
                        self.cut = True
                        break
                dst.sendall(data)
                record += data
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_watch_reconnects_after_a_drop_and_shows_each_component_once(cluster):
    transition_id = cluster.pcs("power", "on", "x5000c5s[0-3]b0n[0-1]", "--no-wait").stdout.strip()
    proxy = Proxy(cluster.url, cut_at=4)
    token = f"tok-{uuid.uuid4().hex}"
    try:
        result = CliRunner().invoke(cli, ["transitions", "watch", transition_id, "--plain",
                                          "--url", proxy.url], env={"PCS_TOKEN": token})
    finally:
        proxy.stop()
    assert result.exit_code == 0, result.output
    assert proxy.cut
    streams = [(line, headers) for line, headers in proxy.requests() if "/events" in line]
    assert len(streams) >= 2
    assert "last-event-id" not in streams[0][1]
    before_cut = [int(i) for i in re.findall(rb"\nid: (\d+)\r?\n", bytes(proxy.answered[0]))]
    assert streams[1][1]["last-event-id"] == str(before_cut[-1])   # resumed where it broke
    assert all(h["authorization"] == f"Bearer {token}" for _, h in proxy.requests())
    nodes = [f"x5000c5s{s}b0n{n}" for s in range(4) for n in range(2)]
    assert sorted(end_lines(result.stdout)) == nodes                # each one exactly once
    assert "8 components: 8 succeeded" in result.stdout
    assert token not in result.output


def test_watch_polls_a_server_without_event_streams(cluster):
    transition_id = cluster.pcs("power", "on", "x5000c6s[0-1]b0n[0-1]", "--no-wait").stdout.strip()
    proxy = Proxy(cluster.url, without_streams=True)
    try:
        result = CliRunner().invoke(cli, ["transitions", "watch", transition_id, "--plain",
                                          "--url", proxy.url])
    finally:
        proxy.stop()
    assert result.exit_code == 0, result.output
    lines = [line for line, _ in proxy.requests()]
    assert lines[0].startswith(f"GET /v1/transitions/{transition_id}/events ")
    assert lines.count(f"GET /v1/transitions/{transition_id} HTTP/1.1") >= 2   # polled
    assert sorted(end_lines(result.stdout)) == [f"x5000c6s{s}b0n{n}" for s in (0, 1)
                                               for n in (0, 1)]
    assert result.stdout.splitlines()[-1] == "4 components: 4 succeeded"


def test_cap_set_show_and_off_report_what_the_bmc_holds(cluster):
    node = f"{registered_xname(7)}n1"
    result = cluster.pcs("cap", "set", node, "--watts", "500")
    assert result.exit_code == 0, result.output
    assert re.search(rf"{node}\s+Node Power Limit\s+500\s+350\s+925", result.output), \
        result.output
    shown = cluster.pcs("cap", "show", node, "--json")
    assert shown.exit_code == 0, shown.output
    limits = json.loads(shown.output)["components"][0]["powerCapLimits"]
    assert limits[0] == {"name": "Node Power Limit", "currentValue": 500, "maximumValue": 925,
                         "minimumValue": 350}
    refused = cluster.pcs("cap", "set", node, "--watts", "1", "--control", "Node Power Limit")
    assert refused.exit_code == 1
    assert "is less than minimum (350)" in refused.output
    removed = cluster.pcs("cap", "off", node)
    assert removed.exit_code == 0, removed.output
    assert "uncapped" in removed.output
    assert cluster.sim.capping(cluster.sim_bmc(registered_xname(7)))["nodes"]["Node1"][0][
        "held"] is None
