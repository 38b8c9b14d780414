"""Unit tests for pcs.redfish.messages: one line that quotes the BMC's error answer."""
import pytest

from pcs.redfish.messages import MAX_WORDS, describe_http_error, quote_messages, redfish_message


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


def test_describe_http_error_bounds_long_body_text():
    line = describe_http_error(500, None, "y" * 1000)
    assert line == "BMC answered 500 Internal Server Error: " + "y" * (MAX_WORDS - 1) + "…"


@pytest.mark.parametrize("body", [None, {}, {"error": {}}, "text", 42])
def test_redfish_message_is_empty_without_redfish_words(body):
    assert redfish_message(body) == ""


# -- error bodies in the shapes BMCs send (written for these tests) ---------------------------
DMTF = {"error": {
    "code": "Base.1.8.GeneralError",
    "message": "A general error has occurred. See Resolution for details.",
    "@Message.ExtendedInfo": [{
        "@odata.type": "#Message.v1_1_1.Message",
        "MessageId": "Base.1.8.ActionParameterValueNotInList",
        "Message": "The value 'Hibernate' for the parameter ResetType in the action "
                   "ComputerSystem.Reset is not in the list of acceptable values.",
        "MessageArgs": ["Hibernate", "ResetType", "ComputerSystem.Reset"],
        "Severity": "Warning",
        "Resolution": "Choose a value from the enumeration list and resubmit the request."}]}}

IDRAC = {"error": {
    "code": "Base.1.12.GeneralError",
    "message": "A general error has occurred. See ExtendedInfo for more information",
    "@Message.ExtendedInfo": [{
        "Message": "Unable to perform the operation because the server is in\n POST.",
        "MessageArgs": [], "MessageArgs@odata.count": 0,
        "MessageId": "IDRAC.2.8.SYS402",
        "RelatedProperties": [], "RelatedProperties@odata.count": 0,
        "Resolution": "Wait for the server to complete POST and retry the operation.",
        "Severity": "Warning"}]}}

ILO = {"error": {
    "code": "iLO.0.10.ExtendedInfo",
    "message": "See @Message.ExtendedInfo for more information.",
    "@Message.ExtendedInfo": [{"MessageId": "iLO.2.14.UnsupportedOperation"}]}}

ILO_WITH_ARGS = {"error": {
    "code": "iLO.0.10.ExtendedInfo",
    "message": "See @Message.ExtendedInfo for more information.",
    "@Message.ExtendedInfo": [{"MessageArgs": ["Hibernate", "ResetType"],
                               "MessageId": "Base.1.4.ActionParameterValueNotInList"}]}}

SUPERMICRO = {"error": {
    "code": "Base.1.4.GeneralError",
    "message": "A general error has occurred. See ExtendedInfo for more information.",
    "@Message.ExtendedInfo": [{
        "MessageId": "Base.1.4.GeneralError",
        "Severity": "Critical",
        "Resolution": "None",
        "Message": "The request failed because the host is already powered on.",
        "MessageArgs": [], "RelatedProperties": []}]}}

CRAY_EX = {"error": {
    "code": "Base.1.7.GeneralError",
    "message": "Node controller x1000c0s1b0 did not answer the power controller in time",
    "@Message.ExtendedInfo": [{
        "@odata.type": "#Message.v1_0_8.Message",
        "MessageId": "Base.1.7.ServiceTemporarilyUnavailable",
        "Message": "The service is temporarily unavailable. Retry in 30 seconds.",
        "MessageArgs": ["30"],
        "Severity": "Critical",
        "Resolution": "Wait for the indicated retry duration and retry the operation."}]}}

SUSHY = {"error": {
    "code": "Base.1.0.GeneralError",
    "message": "Power state Hibernate is not supported",
    "@Message.ExtendedInfo": [{"@odata.type": "/redfish/v1/$metadata#Message.1.0.0.Message",
                               "MessageId": "Base.1.0.GeneralError"}]}}


@pytest.mark.parametrize("body, expected", [
    pytest.param(
        DMTF, "ActionParameterValueNotInList: The value 'Hibernate' for the parameter ResetType "
        "in the action ComputerSystem.Reset is not in the list of acceptable values. "
        "(Resolution: Choose a value from the enumeration list and resubmit the request.)",
        id="dmtf-entry-with-resolution-not-the-pointer-message"),
    pytest.param(
        IDRAC, "SYS402: Unable to perform the operation because the server is in POST. "
        "(Resolution: Wait for the server to complete POST and retry the operation.)",
        id="idrac-one-line"),
    pytest.param(ILO, "UnsupportedOperation", id="ilo-message-id-only"),
    pytest.param(ILO_WITH_ARGS, "ActionParameterValueNotInList (Hibernate, ResetType)",
                 id="ilo-message-args-when-no-message"),
    pytest.param(
        SUPERMICRO, "GeneralError: The request failed because the host is already powered on.",
        id="supermicro-resolution-none-left-out"),
    pytest.param(
        CRAY_EX, "ServiceTemporarilyUnavailable: The service is temporarily unavailable. "
        "Retry in 30 seconds. (Resolution: Wait for the indicated retry duration and retry the "
        "operation.); Node controller x1000c0s1b0 did not answer the power controller in time",
        id="cray-ex-error-message-that-says-more"),
    pytest.param(SUSHY, "GeneralError: Power state Hibernate is not supported",
                 id="sushy-error-message-labelled-by-bare-message-id"),
])
def test_redfish_message_quotes_what_each_bmc_said(body, expected):
    assert redfish_message(body) == expected


def test_the_sushy_shape_keeps_the_bmcs_message_in_the_task_error():
    assert describe_http_error(501, SUSHY, "{...}") == (
        "BMC answered 501 Not Implemented: GeneralError: Power state Hibernate is not supported")


@pytest.mark.parametrize("message", [
    "ResetType 'Nmi' is not supported", "resettype 'nmi' is not supported.",
    "  ResetType   'Nmi' is not supported "])
def test_an_error_message_repeating_an_entry_is_quoted_once(message):
    assert redfish_message(extended(NMI, message=message)) == (
        "ActionParameterNotSupported: ResetType 'Nmi' is not supported")


def test_a_pointer_message_with_more_words_is_kept():
    body = extended(NMI, message="A general error has occurred: the BMC is rebooting")
    assert redfish_message(body) == ("ActionParameterNotSupported: ResetType 'Nmi' is not "
                                      "supported; A general error has occurred: the BMC is "
                                      "rebooting")


def test_bare_message_ids_are_named_once():
    body = extended({"MessageId": "Base.1.8.A"}, {"MessageId": "Oem.2.B"},
                    {"MessageId": "Base.1.8.A"}, message="the words")
    assert redfish_message(body) == "A, B: the words"


def test_the_words_are_one_bounded_line():
    entry = {"MessageId": "Base.1.8.GeneralError", "Message": "fault\r\n " * 200}
    words = redfish_message(extended(entry, entry))
    assert "\n" not in words and "\r" not in words
    assert len(words) == MAX_WORDS and words.endswith("…")


@pytest.mark.parametrize("messages", [None, [], "text", [None, 3, {}]])
def test_quote_messages_without_messages_is_empty(messages):
    assert quote_messages(messages) == ""
