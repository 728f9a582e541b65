"""Group commit (``logs/group_commit.py``): items arriving while the writers are busy go in together,
and each caller gets its own answer, also when the joint insert fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from logs_mcp.logs.group_commit import GroupCommit


class Table:
    """A store that keeps what each insert wrote; the first insert waits until released, and an insert
    holding a negative item fails whole."""

    def __init__(self) -> None:
        self.inserts: list[list[int]] = []
        self.first_entered, self.release_first = threading.Event(), threading.Event()

    def insert_alone(self, item: int) -> str:
        if not self.first_entered.is_set():
            self.first_entered.set()
            self.release_first.wait(timeout=30)
        self.insert_together([item])
        return "alone"

    def insert_together(self, items: Sequence[int]) -> str:
        if any(item < 0 for item in items):
            raise ValueError(f"refused {min(items)}")
        self.inserts.append(list(items))
        return "together"


def run(items: list[int], max_size: int = 100) -> tuple[Table, dict[int, str | Exception]]:
    """Inserts ``items[0]``, then the rest while the first holds the only writer."""
    table = Table()
    commit = GroupCommit(table.insert_alone, table.insert_together, writers=1, max_size=max_size)
    answers: dict[int, str | Exception] = {}

    def send(item: int) -> None:
        try:
            answers[item] = commit.insert(item, size=abs(item))
        except ValueError as error:
            answers[item] = error

    threads = [threading.Thread(target=send, args=(item,)) for item in items]
    threads[0].start()
    assert table.first_entered.wait(timeout=30)
    for thread in threads[1:]:
        thread.start()
        while commit.waiting < threads.index(thread):  # keeps the arrival order
            time.sleep(0.001)
    table.release_first.set()
    for thread in threads:
        thread.join(timeout=30)
    return table, answers


def test_items_waiting_for_the_writer_are_inserted_together() -> None:
    table, answers = run([1, 2, 3, 4])

    assert table.inserts == [[1], [2, 3, 4]]
    assert answers == {1: "alone", 2: "together", 3: "together", 4: "together"}


def test_a_joint_insert_holds_at_most_max_size() -> None:
    table, answers = run([1, 20, 30, 40, 5], max_size=60)

    assert table.inserts == [[1], [20, 30], [40, 5]]
    assert set(answers.values()) == {"alone", "together"}


@pytest.mark.parametrize("failing", [2, 3])
def test_a_failed_joint_insert_gives_each_item_its_own_answer(failing: int) -> None:
    items = [1, 2, 3]
    items[failing - 1] = -failing
    table, answers = run(items)

    assert table.inserts == [[item] for item in items if item > 0]
    assert str(answers[-failing]) == f"refused {-failing}"
    assert [answers[item] for item in items if item > 0] == ["alone", "alone"]
