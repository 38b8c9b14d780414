"""The /transitions blueprint (PCS v1)."""
from __future__ import annotations

from flask import Blueprint, make_response, request

from pcs import queries
from pcs.queue import scheduler, task_reservations
from pcs.api.auth import requester
from pcs.api.body import at_most, json_body
from pcs.api.ids import parse_uuid
from pcs.api.schemas import (AbortAccepted, PageArgs, TaskExchanges, TransitionCreated,
                             TransitionRequest, detail_fast)
from pcs.api.services import services
from pcs.domain import outcomes, xnames

bp = Blueprint("transitions", __name__)


@bp.post("/transitions")
def create_transition():
    svc = services()
    # Counted before the schema loads each location (100,000 of them take seconds).
    args = TransitionRequest().load(at_most(json_body(), "location", svc.settings.max_locations))
    svc.publisher.ping()   # broker down: 503 before anything is stored
    locations = [scheduler.Location(loc["xname"], loc["deputyKey"]) for loc in args["location"]]
    # SMD is read before the transition is stored, outside any database transaction; a failed
    # read still answers 200 and ends the tasks with upstream's reason.
    source_errors = svc.inventory.prepare(svc.db, sorted(
        {p.name for p in map(xnames.parse, (loc.xname for loc in locations)) if p is not None}))
    requested_by = requester()
    with svc.db.transaction() as session:
        transition = scheduler.submit(session, svc.settings, args["operation"],
                                      args["taskDeadlineMinutes"], locations, requested_by,
                                      queue_when_busy=args["onConflict"] == "queue",
                                      source_errors=source_errors)
    response = make_response(TransitionCreated().dump(transition), 200,
                             {"Location": f"../transitions/{transition.id}"})
    # The commit woke the dispatchers (NOTIFY); this pass, once the answer has gone out, is for
    # a dispatcher that did not hear it.
    response.call_on_close(svc.dispatch_after_commit)
    return response


@bp.get("/transitions")
def list_transitions():
    with services().db.transaction() as session:
        body = queries.list_transitions_json(session)
    return body, 200, {"Content-Type": "application/json"}


@bp.get("/transitions/<transition_id>")
def get_transition(transition_id: str):
    with services().db.transaction() as session:
        view = queries.get_transition(session, parse_uuid(transition_id))
    return detail_fast(view)


@bp.delete("/transitions/<transition_id>")
def abort_transition(transition_id: str):
    svc = services()
    with svc.db.transaction() as session:
        scheduler.abort(session, parse_uuid(transition_id))
    if svc.reservations.enabled:   # the ended tasks' SMD reservations go at once
        task_reservations.release_ended(svc.db, svc.reservations)
    return AbortAccepted().dump({"abortStatus": outcomes.ABORT_STATUS_ACCEPTED}), 202


@bp.get("/transitions/<transition_id>/tasks/<xname>")
def get_task(transition_id: str, xname: str):
    """An addition (under /v1/): the task and every Redfish exchange made for it, paginated."""
    page = PageArgs().load(request.args)
    with services().db.transaction() as session:
        found = queries.task_with_exchanges(session, parse_uuid(transition_id),
                                            xnames.normalize(xname), page["offset"],
                                            page["limit"])
    return TaskExchanges().dump(found)
