"""How dispatched tasks are cut into worker messages (pcs.broker.step_batches)."""
from pcs.broker import step_batches


def test_a_bmcs_components_travel_together_in_xname_order():
    tasks = [(4, "x1000c0s1b0n0"), (1, "x1000c0s0b0n1"), (3, "x1000c0s1b0n1"),
             (2, "x1000c0s0b0n0")]
    assert step_batches(tasks, 2) == [[(2, "x1000c0s0b0n0"), (1, "x1000c0s0b0n1")],
                                      [(4, "x1000c0s1b0n0"), (3, "x1000c0s1b0n1")]]


def test_batches_hold_at_most_the_batch_size_and_lose_nothing():
    tasks = [(i, f"x3000c0s{i}b0n0") for i in range(17)]
    batches = step_batches(tasks, 8)
    assert [len(b) for b in batches] == [8, 8, 1]
    assert sorted(t for b in batches for t in b) == sorted(tasks)


def test_a_batch_size_below_one_still_sends_one_task_per_message():
    assert step_batches([(1, "x0c0s0b0n0"), (2, "x0c0s0b0n1")], 0) == [
        [(1, "x0c0s0b0n0")], [(2, "x0c0s0b0n1")]]


def test_nothing_to_send_makes_no_message():
    assert step_batches([], 8) == []
