"""GET /transitions is built by PostgreSQL: it must equal the schema's dump, byte for value."""
from __future__ import annotations

import json

import pytest

from harness import post_transition, wait_transition
from pcs import queries
from pcs.api.schemas import TransitionList

pytestmark = pytest.mark.integration


def test_database_built_list_equals_the_schema_dump(client, fleet, worker, db):
    # Some finished, some with unknown xnames, some running: every count column has values.
    fleet.set_power("x1000c0s3b0", "Node0", "Off")
    tid = post_transition(client, "on", ["x1000c0s3b0n0", "junk", "x1000c0s0b0n0p0"])
    wait_transition(client, tid)
    with db.transaction() as session:
        from_db = json.loads(queries.list_transitions_json(session))
        from_schema = TransitionList().dump({"transitions": queries.list_transitions(session)})
    assert from_db["transitions"], "nothing listed"
    assert from_db == from_schema


def test_list_endpoint_serves_the_database_built_body(client, fleet):
    body = client.get("/v1/transitions").get_json()
    assert set(body) == {"transitions"}
    assert all(set(t) == {"transitionID", "operation", "createTime", "automaticExpirationTime",
                          "transitionStatus", "taskCounts"} for t in body["transitions"])


def test_database_built_power_status_equals_the_schema_dump(client, fleet, db):
    from sqlalchemy import select

    from pcs.api.schemas import PowerStatusList
    from pcs.domain.operations import supported_operations
    from pcs.models import Component
    names = ["x1000c0s1b0n1", "x1000c0s0b0n0", "x1000c0s2b0"]
    with db.transaction() as session:
        _, body = queries.power_status_json(session, names, "", "")
        rows = {c.xname: c for c in session.scalars(
            select(Component).where(Component.xname.in_(names)))}
    expected = PowerStatusList().dump({"status": [
        {"xname": n, "powerState": rows[n].power_state,
         "managementState": rows[n].management_state, "error": "",
         "supportedPowerTransitions": [o.value for o in
                                       supported_operations(rows[n].allowable_values)],
         "lastUpdated": rows[n].last_updated} for n in names]})
    assert json.loads(body) == expected
