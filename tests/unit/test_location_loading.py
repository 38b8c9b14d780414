"""The location list of POST /transitions loads to what LocationSchema gives, entry by entry,
whichever way it is read (plain entries are taken as they are; others go through the schema)."""
from __future__ import annotations

import pytest
from marshmallow import ValidationError

from pcs.api.schemas import LocationSchema, TransitionRequest

PLAIN = [
    {"xname": "x1000c0s0b0n0"},
    {"xname": "X1000C0S0B0N01", "deputyKey": "key"},
    {"xname": None, "deputyKey": None},
    {},
    {"xname": "", "other": [1, 2]},
    {"xname": "é", "deputyKey": "ключ"},
]


def _loaded(locations):
    return TransitionRequest().load({"operation": "On", "location": locations})["location"]


def test_plain_entries_load_as_the_schema_loads_them():
    assert _loaded(PLAIN) == [LocationSchema().load(entry) for entry in PLAIN]


@pytest.mark.parametrize("bad, messages", [
    ({"xname": 5}, {"xname": ["Not a valid string."]}),
    ({"deputyKey": ["k"]}, {"deputyKey": ["Not a valid string."]}),
    ({"xname": "x1000c0s0b0n0\ud800"}, {"xname": ["Not valid Unicode text."]}),
    ("x1000c0s0b0n0", {"_schema": ["Invalid input type."]}),
])
def test_one_bad_entry_among_plain_ones_gets_the_schemas_error_at_its_index(bad, messages):
    with pytest.raises(ValidationError) as raised:
        _loaded(PLAIN + [bad])
    assert raised.value.messages == {"location": {len(PLAIN): messages}}


def test_null_or_missing_location_is_an_empty_list_and_a_string_is_not_a_list():
    assert _loaded(None) == [] and TransitionRequest().load({"operation": "On"})["location"] == []
    with pytest.raises(ValidationError) as raised:
        _loaded("x1000c0s0b0n0")
    assert raised.value.messages == {"location": ["Not a valid list."]}
