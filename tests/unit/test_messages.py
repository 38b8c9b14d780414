"""Unit tests for pcs.redfish.messages: one line that quotes the BMC's error answer."""
import pytest

from pcs.redfish.messages import describe_http_error, redfish_message


def extended(*infos, message=None):
    error = {"code": "Base.1.8.GeneralError", "@Message.ExtendedInfo": list(infos)}
    if message is not None:
        error["message"] = message
    return {"error": error}


NMI = {"MessageId": "Base.1.8.ActionParameterNotSupported",
       "Message": "ResetType 'Nmi' is not supported"}


@pytest.mark.parametrize("status, body, text, expected", [
    pytest.param(
        400, extended(NMI, message="A general error has occurred."), "{...}",
        "BMC answered 400 Bad Request: ActionParameterNotSupported: "
        "ResetType 'Nmi' is not supported", id="extended-info-wins-over-message"),
    pytest.param(
        409, extended({"MessageId": "Base.1.8.PropertyValueConflict", "Message": "  busy  "}),
        "", "BMC answered 409 Conflict: PropertyValueConflict: busy", id="message-trimmed"),
    pytest.param(
        400, extended(NMI, {"MessageId": "Base.1.8.Other", "Message": "second"}), "",
        "BMC answered 400 Bad Request: ActionParameterNotSupported: "
        "ResetType 'Nmi' is not supported; Other: second", id="several-infos-joined"),
    pytest.param(
        400, extended({"MessageId": "NoDotsHere", "Message": "m"}), "",
        "BMC answered 400 Bad Request: NoDotsHere: m", id="message-id-without-registry"),
    pytest.param(
        400, extended({"Message": "only a message"}), "",
        "BMC answered 400 Bad Request: only a message", id="info-without-message-id"),
    pytest.param(
        400, extended({"MessageId": "Base.1.8.Only"}), "",
        "BMC answered 400 Bad Request: Only", id="info-without-message"),
    pytest.param(
        400, {"@Message.ExtendedInfo": [NMI]}, "",
        "BMC answered 400 Bad Request: ActionParameterNotSupported: "
        "ResetType 'Nmi' is not supported", id="extended-info-at-top-level"),
    pytest.param(
        500, {"error": {"code": "Base.1.0.GeneralError",
                        "message": "A general error has occurred."}}, "ignored",
        "BMC answered 500 Internal Server Error: A general error has occurred.",
        id="falls-back-to-error-message"),
    pytest.param(
        500, extended(message="fallback text"), "ignored",
        "BMC answered 500 Internal Server Error: fallback text",
        id="empty-extended-info-falls-back-to-message"),
    pytest.param(
        500, extended("not a dict", 7, message="fallback text"), "",
        "BMC answered 500 Internal Server Error: fallback text",
        id="malformed-infos-ignored"),
    pytest.param(
        503, None, "Service   Unavailable\n  try later ", "BMC answered 503 Service Unavailable: "
        "Service Unavailable try later", id="falls-back-to-body-text-collapsed"),
    pytest.param(
        401, {"error": {}}, "Unauthorized", "BMC answered 401 Unauthorized: Unauthorized",
        id="empty-error-falls-back-to-text"),
    pytest.param(
        404, ["not", "a", "dict"], "<html>Not Found</html>",
        "BMC answered 404 Not Found: <html>Not Found</html>", id="non-dict-body-uses-text"),
    pytest.param(503, None, "", "BMC answered 503 Service Unavailable", id="bare-status-line"),
    pytest.param(502, None, None, "BMC answered 502 Bad Gateway", id="no-text-at-all"),
    pytest.param(500, {}, "   \n ", "BMC answered 500 Internal Server Error",
                 id="whitespace-text-is-no-text"),
    pytest.param(599, None, "", "BMC answered 599 HTTP error", id="unknown-status"),
])
def test_describe_http_error(status, body, text, expected):
    assert describe_http_error(status, body, text) == expected


def test_describe_http_error_truncates_long_body_text():
    line = describe_http_error(500, None, "y" * 1000)
    assert line == "BMC answered 500 Internal Server Error: " + "y" * 200


@pytest.mark.parametrize("body", [None, {}, {"error": {}}, "text", 42])
def test_redfish_message_is_empty_without_redfish_words(body):
    assert redfish_message(body) == ""
