"""Unit tests for reading a Redfish task monitor (pcs.redfish.tasks)."""
import pytest

from pcs.redfish.tasks import TaskProgress, read_task_monitor


@pytest.mark.parametrize("status, body", [
    (202, None),
    (202, {"TaskState": "Running"}),
    (200, {"TaskState": "New"}),
    (200, {"TaskState": "Pending", "TaskStatus": "OK"}),
    (503, None),                        # the monitor itself failed to answer: ask again
])
def test_a_task_not_ended_is_running(status, body):
    assert read_task_monitor(status, body).progress is TaskProgress.RUNNING


@pytest.mark.parametrize("status, body", [
    (200, {"TaskState": "Completed", "TaskStatus": "OK"}),
    (204, None),                        # the operation's own response once it ended
    (200, {}),
    (404, None),                        # the monitor is gone with its ended task
    (410, None),
])
def test_a_task_that_ended_well_is_done(status, body):
    assert read_task_monitor(status, body).progress is TaskProgress.DONE


def test_an_exception_quotes_the_task_messages():
    body = {"Id": "7", "TaskState": "Exception", "TaskStatus": "Critical",
            "Messages": [{"MessageId": "Base.1.8.GeneralError",
                          "Message": "Power supply fault during power-on."}]}
    reading = read_task_monitor(200, body)
    assert reading.progress is TaskProgress.FAILED
    assert reading.message == ("BMC task 7 ended Exception: GeneralError: Power supply fault "
                               "during power-on.")


def test_a_killed_task_without_messages_still_says_so():
    reading = read_task_monitor(200, {"Id": "3", "TaskState": "Killed"})
    assert reading.progress is TaskProgress.FAILED
    assert reading.message == "BMC task 3 ended Killed: no message"


def test_task_messages_are_quoted_as_error_answers_are():
    body = {"Id": "9", "TaskState": "Exception",
            "Messages": [{"MessageId": "Base.1.8.ResourceInUse", "Message": "Busy\n  now.",
                          "Resolution": "Retry later."},
                         {"MessageId": "Oem.1.0.PowerFault"}]}
    assert read_task_monitor(200, body).message == (
        "BMC task 9 ended Exception: ResourceInUse: Busy now. (Resolution: Retry later.); "
        "PowerFault")
