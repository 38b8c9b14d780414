"""Exceptions named for the condition. pcs/api/errors.py alone maps them to HTTP statuses."""


class PcsError(Exception):
    """Base of every error this service raises on purpose. str() is the operator-facing text."""


class InvalidRequest(PcsError):
    """The request is malformed or breaks a rule (400)."""


class TooManyLocations(PcsError):
    """More locations than PCS_MAX_LOCATIONS in one request (413)."""


class NotFound(PcsError):
    """The named record does not exist (404)."""


class Conflict(PcsError):
    """The request conflicts with the stored state (409)."""


class TransitionFinished(PcsError):
    """Abort of a transition that already completed (400, upstream text)."""


class BmcRegistrationFailed(PcsError):
    """A BMC could not be reached, refused the credentials, or offered nothing usable (422)."""


class DatabaseUnavailable(PcsError):
    """PostgreSQL cannot be reached (503)."""


class BrokerUnavailable(PcsError):
    """The Celery broker cannot be reached (503)."""


class ConfigurationError(PcsError):
    """A setting is missing or wrong (500, logged)."""


class CredentialsUnavailable(PcsError):
    """A BMC's username and password cannot be had from the configured source (the task fails
    with this text)."""


class NotAuthenticated(PcsError):
    """No token, or one that does not verify (401); str() is upstream's exact text."""


class NotPermitted(PcsError):
    """A valid token without the role the route needs, or a foreign Origin or Host (403)."""


class AuthenticationUnavailable(PcsError):
    """The signing keys have not been fetched yet: fail closed (503)."""


class RequestTooLarge(PcsError):
    """A request body above PCS_MAX_BODY_BYTES (413)."""


class UnsupportedContentType(PcsError):
    """A browser-sent body that is not application/json (415)."""


class TooManyStreams(PcsError):
    """Every event stream slot of this API process is taken (503)."""
