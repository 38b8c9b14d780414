"""Marshmallow schemas: the wire format of every request and response."""
from __future__ import annotations

from datetime import timezone

from marshmallow import (EXCLUDE, Schema, ValidationError, fields, post_load, validate,
                         validates_schema)

from pcs.domain.operations import Operation
from pcs.models import TASK_STATUS_FOR


def rfc3339(value) -> str:
    """RFC 3339 with offset, '' where never set."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)   # the session time zone may be any
    return value.strftime(RFC3339_FORMAT)


# Always microseconds and Z, so that PostgreSQL can produce the same text (queries.py).
RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class Timestamp(fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return rfc3339(value)


class StrictString(fields.String):
    """A string that does not accept numbers or other types silently."""
    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        try:
            value.encode()
        except UnicodeEncodeError:   # a lone surrogate: JSON allows it, UTF-8 does not
            raise ValidationError("Not valid Unicode text.") from None
        return super()._deserialize(value, attr, data, **kwargs)


# -- transitions -------------------------------------------------------------------------------
class LocationSchema(Schema):
    class Meta:
        unknown = EXCLUDE
    # As upstream: an entry without an xname (or with null) is not a bad request but a task
    # that fails with `Invalid xname`; an xname of another type is still a 400.
    xname = StrictString(load_default="", allow_none=True)
    deputyKey = StrictString(load_default=None, allow_none=True)

    @post_load
    def _null_is_empty(self, data, **_):
        data["xname"] = data["xname"] or ""
        return data


class Locations(fields.List):
    """The location list, loaded by LocationSchema. When every entry is plainly valid (an object
    whose xname and deputyKey are text or null, as in nearly every request) the entries are
    taken as they are, with the result the schema would give, in a fraction of its time (a
    tenth of a second for 10,000); any other list goes through the schema, for its exact
    errors."""

    def __init__(self, **kwargs):
        super().__init__(fields.Nested(LocationSchema), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            plain = [_plain_location(entry) for entry in value]
            if None not in plain:
                return plain
        return super()._deserialize(value, attr, data, **kwargs)


def _plain_location(entry) -> dict | None:
    """What LocationSchema loads from the entry, or None when only the schema can say."""
    if not isinstance(entry, dict):
        return None
    xname, key = entry.get("xname"), entry.get("deputyKey")
    if not (_text_or_null(xname) and _text_or_null(key)):
        return None
    return {"xname": xname or "", "deputyKey": key}


def _text_or_null(value) -> bool:
    if value is None or (isinstance(value, str) and value.isascii()):
        return True
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:   # a lone surrogate: StrictString's error, from the schema
        return False
    return True


class TransitionRequest(Schema):
    class Meta:
        unknown = EXCLUDE
    operation = fields.Raw(load_default="")
    taskDeadlineMinutes = fields.Integer(strict=True, load_default=None, allow_none=True)
    onConflict = StrictString(load_default="queue", validate=validate.OneOf(["queue", "fail"]))
    # Missing, null or empty: a transition without tasks that completes at once (as upstream).
    location = Locations(load_default=list, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _operation(self, data, **_):
        # Upstream's exact text, as the whole detail (clients match on it).
        value = data.get("operation", "")
        try:
            Operation.parse(value if isinstance(value, str) else "")
        except ValueError:
            raise ValidationError(f"invalid Operation type {value}") from None

    @post_load
    def _normalize(self, data, **_):
        data["operation"] = Operation.parse(data["operation"])
        deadline = data["taskDeadlineMinutes"]
        # Upstream: absent means 5 minutes, and anything below -1 means -1 (wait forever).
        data["taskDeadlineMinutes"] = 5 if deadline is None else max(deadline, -1)
        data["location"] = data["location"] or []
        return data


class TransitionCreated(Schema):
    transitionID = fields.UUID(attribute="id")
    operation = fields.String()


class TaskCounts(Schema):
    total = fields.Integer()
    new = fields.Integer()
    in_progress = fields.Integer(data_key="in-progress")
    failed = fields.Integer()
    succeeded = fields.Integer()
    un_supported = fields.Integer(data_key="un-supported")


class TransitionSummary(Schema):
    transitionID = fields.UUID(attribute="id")
    operation = fields.String()
    createTime = Timestamp(attribute="created_at")
    automaticExpirationTime = Timestamp(attribute="expires_at")
    transitionStatus = fields.String(attribute="status")
    taskCounts = fields.Nested(TaskCounts, attribute="task_counts")


class TaskSchema(Schema):
    xname = fields.String()
    taskStatus = fields.Function(lambda t: TASK_STATUS_FOR[t.state])
    taskStatusDescription = fields.Function(lambda t: t.description)
    error = fields.Function(lambda t: t.error)

    @staticmethod
    def _drop_empty_error(data: dict) -> dict:
        if not data.get("error"):
            data.pop("error", None)
        return data

    def dump(self, obj, *, many=None):
        out = super().dump(obj, many=many)
        if many or (many is None and self.many):
            return [self._drop_empty_error(d) for d in out]
        return self._drop_empty_error(out)


class TransitionDetail(TransitionSummary):
    tasks = fields.Nested(TaskSchema, many=True)


class TransitionList(Schema):
    transitions = fields.Nested(TransitionSummary, many=True)


# Hot paths (DESIGN.md "Speed on hot paths"): 20,000 transitions or 10,000 tasks serialized by
# hand, about ten times faster than dump(). tests/test_wire_format.py proves the output equal to
# the schemas' dump, which stays the definition of the wire format.
def summary_fast(view) -> dict:
    counts = view.task_counts
    return {"transitionID": str(view.id), "operation": view.operation,
            "createTime": rfc3339(view.created_at),
            "automaticExpirationTime": rfc3339(view.expires_at),
            "transitionStatus": view.status,
            "taskCounts": {"total": counts["total"], "new": counts["new"],
                           "in-progress": counts["in_progress"], "failed": counts["failed"],
                           "succeeded": counts["succeeded"],
                           "un-supported": counts["un_supported"]}}


def task_fast(task) -> dict:
    out = {"xname": task.xname, "taskStatus": TASK_STATUS_FOR[task.state],
           "taskStatusDescription": task.description}
    if task.error:
        out["error"] = task.error
    return out


def detail_fast(view) -> dict:
    out = summary_fast(view)
    out["tasks"] = [task_fast(t) for t in view.tasks]
    return out


class AbortAccepted(Schema):
    abortStatus = fields.String()


# -- inventory (an addition of this service) ---------------------------------------------------
def valid_pem(text: str | None) -> None:
    """A BMC's caBundle: one or more PEM certificates."""
    if text is None:
        return
    from cryptography import x509
    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ValidationError("must be one or more PEM certificates "
                              "(-----BEGIN CERTIFICATE----- ...)") from None


valid_address = validate.Regexp(r"^[A-Za-z0-9.\-\[\]:]+(:\d{1,5})?$",
                                error="must be host or host:port")
valid_scheme = validate.OneOf(["http", "https"])


class BmcRequest(Schema):
    class Meta:
        unknown = EXCLUDE
    xname = StrictString(required=True)
    address = StrictString(required=True, validate=valid_address)
    scheme = StrictString(load_default="https", validate=valid_scheme)
    username = StrictString(required=True)
    password = StrictString(required=True, load_only=True)
    verifyTls = fields.Boolean(load_default=True, truthy={True}, falsy={False})
    caBundle = StrictString(load_default=None, allow_none=True, validate=valid_pem)
    systems = fields.Dict(keys=StrictString(), values=StrictString(), load_default=None)


class BmcPatch(Schema):
    class Meta:
        unknown = EXCLUDE
    address = StrictString(validate=valid_address)
    scheme = StrictString(validate=valid_scheme)
    username = StrictString()
    password = StrictString(load_only=True)
    verifyTls = fields.Boolean(truthy={True}, falsy={False})
    caBundle = StrictString(allow_none=True, validate=valid_pem)


class BmcSchema(Schema):
    xname = fields.String()
    address = fields.String()
    scheme = fields.String()
    username = fields.String()
    verifyTls = fields.Boolean(attribute="verify_tls")
    caBundle = fields.String(attribute="ca_bundle", allow_none=True)
    createdAt = Timestamp(attribute="created_at")
    components = fields.List(fields.String())


class ComponentSchema(Schema):
    xname = fields.String()
    type = fields.String()
    bmc = fields.String()
    redfishPath = fields.String(attribute="redfish_path")
    resetTarget = fields.String(attribute="reset_target", allow_none=True)
    allowableValues = fields.List(fields.String(), attribute="allowable_values")
    supportedPowerTransitions = fields.List(fields.String(), attribute="supported")
    powerState = fields.String(attribute="power_state")
    managementState = fields.String(attribute="management_state")
    error = fields.String(attribute="status_error")
    lastUpdated = Timestamp(attribute="last_updated")
    lastPolled = Timestamp(attribute="last_polled")


# -- queues and locks (additions of this service) ----------------------------------------------
class ActiveTaskSchema(Schema):
    transitionID = fields.UUID(attribute="transition_id")
    operation = fields.String()
    taskStatus = fields.Function(lambda a: TASK_STATUS_FOR[a["state"]])
    startedAt = Timestamp(attribute="started_at")
    runningSeconds = fields.Float(attribute="running_s")


class QueuedTaskSchema(Schema):
    transitionID = fields.UUID(attribute="transition_id")
    operation = fields.String()
    position = fields.Integer()
    enqueuedAt = Timestamp(attribute="enqueued_at")


class ComponentQueueSchema(Schema):
    xname = fields.String()
    active = fields.Nested(ActiveTaskSchema, allow_none=True)
    queued = fields.Nested(QueuedTaskSchema, many=True)


class LockRequest(Schema):
    class Meta:
        unknown = EXCLUDE
    xnames = fields.List(StrictString(), required=True,
                         validate=validate.Length(min=1, error="at least one xname is required"))
    reason = StrictString(load_default="")


class LockSchema(Schema):
    xname = fields.String()
    reason = fields.String()
    lockedBy = fields.Dict(attribute="locked_by")
    createdAt = Timestamp(attribute="created_at")


# -- a task and the BMC's own words (an addition) ----------------------------------------------
class ExchangeSchema(Schema):
    purpose = fields.String()
    state = fields.String()
    method = fields.String()
    path = fields.String()
    requestBody = fields.Raw(attribute="request_body")
    statusCode = fields.Integer(attribute="status_code", allow_none=True)
    responseBody = fields.String(attribute="response_body", allow_none=True)
    errorClass = fields.String(attribute="error_class", allow_none=True)
    error = fields.String(allow_none=True)
    latencyMs = fields.Float(attribute="latency_ms", allow_none=True)
    sentAt = Timestamp(attribute="sent_at")


class TaskDetailSchema(Schema):
    xname = fields.String()
    taskStatus = fields.Function(lambda t: TASK_STATUS_FOR[t.state])
    taskStatusDescription = fields.String(attribute="description")
    error = fields.String()
    queueState = fields.String(attribute="state")
    attempts = fields.Integer(attribute="attempt")
    resends = fields.Integer()       # an unmoved On or ForceOff sent again (PCS_RESEND_LIMIT)
    enqueuedAt = Timestamp(attribute="enqueued_at")
    startedAt = Timestamp(attribute="started_at")
    finishedAt = Timestamp(attribute="finished_at")


class PageSchema(Schema):
    offset = fields.Integer()
    limit = fields.Integer()
    total = fields.Integer()


class TaskExchanges(Schema):
    task = fields.Nested(TaskDetailSchema)
    exchanges = fields.Nested(ExchangeSchema, many=True)
    page = fields.Nested(PageSchema)


class PageArgs(Schema):
    class Meta:
        unknown = EXCLUDE
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


# -- power status (PCS v1) ---------------------------------------------------------------------
class PowerStatusSchema(Schema):
    xname = fields.String()
    powerState = fields.String()
    managementState = fields.String()
    error = fields.String()
    supportedPowerTransitions = fields.List(fields.String(), allow_none=True)
    lastUpdated = Timestamp()


class PowerStatusList(Schema):
    status = fields.Nested(PowerStatusSchema, many=True)


class PowerStatusQuery(Schema):
    class Meta:
        unknown = EXCLUDE
    xname = fields.List(StrictString(), load_default=list)
    powerStateFilter = StrictString(load_default="")
    managementStateFilter = StrictString(load_default="")


# -- lists of the additions, problems, health -------------------------------------------------
class BmcList(Schema):
    bmcs = fields.Nested(BmcSchema, many=True)


class ComponentList(Schema):
    components = fields.Nested(ComponentSchema, many=True)


class QueueList(Schema):
    queues = fields.Nested(ComponentQueueSchema, many=True)


class LockList(Schema):
    locks = fields.Nested(LockSchema, many=True)


class ProblemSchema(Schema):
    """RFC 7807, as every error is answered (pcs/api/errors.py)."""
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()


class HealthSchema(Schema):
    KvStore = fields.String()
    DistLocking = fields.String()
    StateManager = fields.String()
    Vault = fields.String()
    TaskRunner = fields.String()


class HealthDetailsSchema(Schema):
    database = fields.Dict()
    broker = fields.Dict()
    workers = fields.Dict()
    inventory = fields.Dict()
