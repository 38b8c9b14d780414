"""Conditions the SMD face answers with a problem+json body (statuses are mapped in ``app``)."""
from __future__ import annotations


class SmdError(Exception):
    """A request SMD would refuse; ``str(exc)`` is the problem's ``detail``, SMD's text."""


class BadRequest(SmdError):
    """Malformed or invalid request (SMD answers 400 and changes nothing)."""


class NoSuchComponent(SmdError):
    """A single-component read of an ID SMD does not hold (404)."""
