"""Service routes: the probe text, liveness, readiness, health."""
from __future__ import annotations

import time

from flask import Blueprint

from pcs.api.schemas import HealthSchema
from pcs.api.services import services
from pcs.errors import PcsError
from pcs.sources.credentials import CONNECTED, DISABLED, NOT_CONNECTED, NOT_RESPONSIVE

bp = Blueprint("service", __name__)


@bp.get("/")
def root():
    return "hms-power-control", 200, {"Content-Type": "text/plain"}


@bp.get("/liveness")
def liveness():
    return "", 204


@bp.get("/readiness")
def readiness():
    checks = _checks()
    ready = (checks["database"]["ok"] and checks["broker"]["ok"]
             and checks["workers"]["count"] > 0 and checks["inventory"].get("ok", True))
    return "", 204 if ready else 503


@bp.get("/health")
def health():
    checks = _checks()
    db = CONNECTED if checks["database"]["ok"] else NOT_CONNECTED
    broker_ok = checks["broker"]["ok"]
    if broker_ok and checks["workers"]["count"] > 0:
        task_runner = CONNECTED + ", local mode"
    elif broker_ok:
        task_runner = NOT_RESPONSIVE
    else:
        task_runner = NOT_CONNECTED
    inventory = checks["inventory"]
    state_manager = db if "ok" not in inventory else (CONNECTED if inventory["ok"] else NOT_CONNECTED)
    return HealthSchema().dump({"KvStore": db, "DistLocking": db, "StateManager": state_manager,
                                "Vault": _vault(), "TaskRunner": task_runner})


def _vault() -> str:
    svc = services()
    if svc.settings.credential_source != "vault":
        return DISABLED   # the local or fake store: nothing to ask
    return svc.credential_source.health()


@bp.get("/health/details")
def health_details():
    return _checks()


def _checks() -> dict:
    svc = services()
    out = {}
    for name, probe in (("database", svc.db.ping), ("broker", svc.publisher.ping)):
        started = time.monotonic()
        try:
            probe()
            out[name] = {"ok": True, "latencyMs": round((time.monotonic() - started) * 1000, 2)}
        except PcsError as exc:
            out[name] = {"ok": False, "error": str(exc)}
    out["workers"] = {"count": svc.publisher.worker_count() if out["broker"]["ok"] else 0}
    out["inventory"] = _inventory_check(svc)
    return out


def _inventory_check(svc) -> dict:
    """Which source the components come from and, for SMD, whether it answers (upstream's rule:
    any HTTP answer within 5 s). The local source is the database, checked above."""
    source = svc.inventory
    if source.name == "local":
        return {"source": "local"}
    started = time.monotonic()
    alive = bool(source.alive())
    check = {"source": source.name, "url": svc.settings.sms_server, "ok": alive}
    if alive:
        check["latencyMs"] = round((time.monotonic() - started) * 1000, 2)
    return check
