"""Wire format of the power-cap routes.

Request bodies are decoded as upstream's Go service decodes them (encoding/json into its
model structs), because clients and upstream's CT match the decoder's texts: keys match in any
case, null leaves the zero value, and the first value of a wrong type gives
`json: cannot unmarshal <kind> into Go struct field <Struct>.<path> of type <type>`.
Responses are marshmallow schemas.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from marshmallow import Schema, fields, post_dump

from pcs.api.schemas import TaskCounts, Timestamp, ExchangeSchema, PageSchema
from pcs.errors import InvalidRequest


# -- requests, as Go's encoding/json reads them ---------------------------------------------------
@dataclass(frozen=True)
class GoType:
    """A Go type: `name` as Go prints it; a struct has fields, a slice an element type."""
    name: str
    fields: tuple[tuple[str, "GoType"], ...] = ()
    element: "GoType | None" = None


GO_STRING, GO_INT = GoType("string"), GoType("int")
CONTROL = GoType("model.PowerCapControlParameter", (("name", GO_STRING), ("value", GO_INT)))
COMPONENT = GoType("model.PowerCapComponentParameter",
                   (("xname", GO_STRING), ("controls", GoType("[]" + CONTROL.name,
                                                              element=CONTROL))))
PATCH = GoType("model.PowerCapPatchParameter",
               (("components", GoType("[]" + COMPONENT.name, element=COMPONENT)),))
SNAPSHOT = GoType("model.PowerCapSnapshotParameter",
                  (("xnames", GoType("[]string", element=GO_STRING)),))


class GoDecodeError(InvalidRequest):
    """The text Go's decoder would give (the 400 detail)."""


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _decode(value, go: GoType, struct: str | None, path: str, problems: list[str]):
    """The value as Go would hold it; type mismatches are appended to `problems`, and Go goes on
    with the zero value."""
    if value is None:
        if go.fields:
            return {name: _decode(None, field_type, None, "", []) for name, field_type in go.fields}
        return [] if go.element else ("" if go is GO_STRING else 0)
    expected = ("object" if go.fields else "array" if go.element else
                "string" if go is GO_STRING else "number")
    kind = _kind(value)
    if kind == "number" and go is GO_INT and (isinstance(value, float)
                                              or not -2**63 <= value < 2**63):
        kind = f"number {json.dumps(value)}"
    elif kind == expected:
        kind = None
    if kind is not None:
        where = (f"Go struct field {struct.rsplit('.', 1)[-1]}.{path}" if struct
                 else "Go value")
        problems.append(f"json: cannot unmarshal {kind} into {where} of type {go.name}")
        return _decode(None, go, struct, path, [])
    if go.fields:
        out = {}
        for name, field_type in go.fields:
            found = _member(value, name)
            out[name] = _decode(found, field_type, go.name,
                                f"{path}.{name}" if path else name, problems)
        return out
    if go.element:
        return [_decode(v, go.element, struct, path, problems) for v in value]
    return int(value) if go is GO_INT else value


def _member(obj: dict, name: str):
    """The key Go's decoder picks: the exact name, else any case of it."""
    if name in obj:
        return obj[name]
    return next((v for k, v in obj.items() if k.lower() == name.lower()), None)


def go_decode(raw: bytes, go: GoType) -> dict:
    """Raises GoDecodeError with the decoder's text."""
    text = raw.decode("utf-8", "replace")
    if not text.strip():
        raise GoDecodeError("unexpected end of JSON input")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise GoDecodeError("unexpected end of JSON input") from None
        raise GoDecodeError(f"invalid character {text[exc.pos]!r} looking for beginning of "
                            f"value") from None
    problems: list[str] = []
    decoded = _decode(value, go, None, "", problems)
    if problems:
        raise GoDecodeError(problems[0])
    return decoded


def load_snapshot(raw: bytes) -> list[str]:
    return go_decode(raw, SNAPSHOT)["xnames"]


def load_patch(raw: bytes) -> list[tuple[str, list[tuple[str, int]]]]:
    return [(c["xname"], [(k["name"], k["value"]) for k in c["controls"]])
            for c in go_decode(raw, PATCH)["components"]]


# -- responses ----------------------------------------------------------------------------------
class PowerCapCreated(Schema):
    taskID = fields.UUID(attribute="id")


class PowerCapSummary(Schema):
    taskID = fields.UUID(attribute="id")
    type = fields.String()
    taskCreateTime = Timestamp(attribute="created_at")
    automaticExpirationTime = Timestamp(attribute="expires_at")
    taskStatus = fields.String(attribute="status")
    taskCounts = fields.Nested(TaskCounts, attribute="task_counts")


class CapLimits(Schema):
    hostLimitMax = fields.Integer()
    hostLimitMin = fields.Integer()
    powerupPower = fields.Integer()


class CapControlSchema(Schema):
    name = fields.String()
    currentValue = fields.Integer()
    maximumValue = fields.Integer()
    minimumValue = fields.Integer()


class CapComponent(Schema):
    """Absent keys stay absent (the input dicts omit them), as Go's omitempty does."""
    xname = fields.String()
    error = fields.String()
    limits = fields.Nested(CapLimits)
    powerCapLimits = fields.Nested(CapControlSchema, many=True)


class PowerCapDetail(PowerCapSummary):
    components = fields.Nested(CapComponent, many=True)

    @post_dump
    def _omit_empty(self, data, **_):
        if not data.get("components"):
            data.pop("components", None)
        return data


class PowerCapList(Schema):
    tasks = fields.Nested(PowerCapSummary, many=True)


class CapTaskDetail(Schema):
    xname = fields.String()
    queueState = fields.String(attribute="state")
    kind = fields.String()
    attempts = fields.Integer(attribute="attempt")
    enqueuedAt = Timestamp(attribute="enqueued_at")
    startedAt = Timestamp(attribute="started_at")
    finishedAt = Timestamp(attribute="finished_at")


class CapTaskExchanges(Schema):
    task = fields.Nested(CapTaskDetail)
    component = fields.Nested(CapComponent)
    exchanges = fields.Nested(ExchangeSchema, many=True)
    page = fields.Nested(PageSchema)
