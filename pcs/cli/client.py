"""The PCS API over HTTP, for the CLI: one method per call, errors as two exceptions."""
from __future__ import annotations

import http.client
from typing import Iterable, Iterator

import requests
import urllib3

from pcs.cli.sse import SseEvent, parse_events

DEFAULT_URL = "http://127.0.0.1:28007"
# What reading a streamed body raises when the connection drops or goes silent: urllib3's own
# errors surface mid-body, not requests' wrappers.
STREAM_BROKEN = (requests.RequestException, urllib3.exceptions.HTTPError,
                 http.client.HTTPException, OSError)


class ApiUnreachable(Exception):
    """No answer from the server: refused, timed out or cut off."""


class ApiError(Exception):
    """The server answered with an error status; `detail` is its problem+json detail."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status, self.title, self.detail = status, title, detail


class PcsClient:
    """Talks to one PCS server. The token goes in the Authorization header and nowhere else."""

    def __init__(self, url: str = DEFAULT_URL, token: str | None = None,
                 timeout_s: float = 60.0, connect_timeout_s: float = 5.0,
                 stream_idle_s: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = (connect_timeout_s, timeout_s)
        # Per-transition streams report progress every 2 s: 30 s of silence is a dead link.
        self.stream_timeout = (connect_timeout_s, stream_idle_s)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "pcs-cli"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.session.close()

    # -- power capping -------------------------------------------------------------------------
    def cap_snapshot(self, xnames: list[str]) -> dict:
        return self._json("POST", "/v1/power-cap/snapshot", json={"xnames": xnames})

    def cap_patch(self, components: dict[str, dict[str, int]]) -> dict:
        """components: xname -> {control name: watts}."""
        return self._json("PATCH", "/v1/power-cap", json={"components": [
            {"xname": x, "controls": [{"name": n, "value": v} for n, v in controls.items()]}
            for x, controls in components.items()]})

    def get_power_cap(self, task_id: str) -> dict:
        return self._json("GET", f"/v1/power-cap/{task_id}")

    # -- transitions ---------------------------------------------------------------------------
    def create_transition(self, operation: str, xnames: list[str],
                          deadline_minutes: int | None = None,
                          on_conflict: str | None = None) -> dict:
        body: dict = {"operation": operation, "location": [{"xname": x} for x in xnames]}
        if deadline_minutes is not None:
            body["taskDeadlineMinutes"] = deadline_minutes
        if on_conflict is not None:
            body["onConflict"] = on_conflict
        return self._json("POST", "/v1/transitions", json=body)

    def list_transitions(self) -> list[dict]:
        return self._json("GET", "/v1/transitions")["transitions"]

    def get_transition(self, transition_id: str) -> dict:
        return self._json("GET", f"/v1/transitions/{transition_id}")

    def abort_transition(self, transition_id: str) -> dict:
        return self._json("DELETE", f"/v1/transitions/{transition_id}")

    def get_task(self, transition_id: str, xname: str) -> dict:
        return self._json("GET", f"/v1/transitions/{transition_id}/tasks/{xname}")

    def transition_events(self, transition_id: str,
                          last_event_id: int | None = None) -> Iterator[SseEvent]:
        """The transition's event stream, from after `last_event_id` (else from its start).

        Raises ApiError (404 for an unknown transition, or a server without streams) or
        ApiUnreachable when connecting; iterating raises ApiUnreachable when the stream breaks."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        response = self._request("GET", f"/v1/transitions/{transition_id}/events",
                                 headers=headers, stream=True, timeout=self.stream_timeout)
        return self._events(response)

    def _events(self, response: requests.Response) -> Iterator[SseEvent]:
        try:
            yield from parse_events(split_lines(_chunks(response.raw)))
        except STREAM_BROKEN as exc:
            raise ApiUnreachable(f"the event stream from {self.url} broke "
                                 f"({type(exc).__name__})") from None
        finally:
            response.close()

    # -- power status, queues, locks, inventory ------------------------------------------------
    def power_status(self, xnames: list[str], power_state: str = "",
                     management_state: str = "") -> list[dict]:
        body = {"xname": xnames, "powerStateFilter": power_state,
                "managementStateFilter": management_state}
        return self._json("POST", "/v1/power-status", json=body)["status"]

    def queues(self, ranges: str | None = None) -> list[dict]:
        params = {"xname": ranges} if ranges else None
        return self._json("GET", "/v1/queue", params=params)["queues"]

    def list_locks(self) -> list[dict]:
        return self._json("GET", "/v1/locks")["locks"]

    def add_locks(self, xnames: list[str], reason: str) -> list[dict]:
        return self._json("POST", "/v1/locks", json={"xnames": xnames, "reason": reason})["locks"]

    def remove_lock(self, xname: str) -> None:
        self._request("DELETE", f"/v1/locks/{xname}")

    def add_bmc(self, body: dict) -> dict:
        return self._json("POST", "/v1/inventory/bmcs", json=body)

    def list_bmcs(self) -> list[dict]:
        return self._json("GET", "/v1/inventory/bmcs")["bmcs"]

    def list_components(self) -> list[dict]:
        return self._json("GET", "/v1/inventory/components")["components"]

    def remove_bmc(self, xname: str) -> None:
        self._request("DELETE", f"/v1/inventory/bmcs/{xname}")

    # -- plumbing ------------------------------------------------------------------------------
    def _json(self, method: str, path: str, **kwargs) -> dict:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, response.reason or "",
                           "the server's answer is not JSON") from None

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Raises ApiUnreachable (no answer) or ApiError (an error status)."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, self.url + path, **kwargs)
        except requests.ConnectionError as exc:
            raise ApiUnreachable(f"cannot reach the PCS API at {self.url}: "
                                 f"{_reason(exc)}") from None
        except requests.Timeout:
            raise ApiUnreachable(f"no answer from the PCS API at {self.url} within "
                                 f"{kwargs['timeout'][1]:g} s") from None
        except requests.RequestException as exc:
            raise ApiUnreachable(f"request to {self.url} failed: {exc}") from None
        if response.status_code >= 400:
            raise error_from(response)
        return response


def error_from(response: requests.Response) -> ApiError:
    """The server's problem+json detail, else the start of its body."""
    title, detail = response.reason or "", ""
    try:
        body = response.json()
        detail = str(body.get("detail") or body.get("error") or "")
        title = str(body.get("title") or title)
    except (ValueError, AttributeError):
        detail = response.text.strip()[:200]
    response.close()
    return ApiError(response.status_code, title, detail)


def _reason(exc: requests.ConnectionError) -> str:
    text = str(exc)
    if "Connection refused" in text or "ECONNREFUSED" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return text.split(":")[-1].strip(" )'\"") or "connection failed"


def _chunks(raw) -> Iterator[bytes]:
    """Bytes as they arrive (read1 returns what one read gave, never waiting for a full buffer)."""
    while True:
        data = raw.read1(65536)
        if not data:
            return
        yield data


def split_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decoded lines split on LF only (JSON text may hold other Unicode line separators)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")
