"""The scheduling rule on its own: fair order and batch picking (no database, no worker)."""

from __future__ import annotations

from bot.jobs.fairness import Waiting, fair_order, pick_batch


def ids(jobs: list[Waiting]) -> list[int]:
    return [j.id for j in jobs]


def test_round_robin_between_users_oldest_job_first() -> None:
    ana = [Waiting(i, user=1) for i in range(1, 21)]
    others = [Waiting(21, user=2), Waiting(22, user=3), Waiting(23, user=4)]
    order = fair_order(ana + others)
    assert ids(order)[:6] == [1, 21, 22, 23, 2, 3]
    assert ids(order)[6:] == list(range(4, 21))


def test_users_served_or_running_now_wait_behind_the_others() -> None:
    waiting = [Waiting(10, user=1), Waiting(11, user=2), Waiting(12, user=3)]
    # User 1 got two jobs since the backlog began; user 2 has one running right now, which
    # counts first (fewest running, then fewest served).
    order = fair_order(waiting, running={2: 1}, served={1: 2, 2: 1})
    assert ids(order) == [12, 10, 11]


def test_instructors_go_first() -> None:
    waiting = [Waiting(1, user=1), Waiting(2, user=2), Waiting(3, user=9, priority=1)]
    assert ids(fair_order(waiting)) == [3, 1, 2]


def test_a_batch_takes_compatible_jobs_in_fair_order() -> None:
    def job(i: int, user: int, key: str = "m", cost: float = 20) -> Waiting:
        return Waiting(i, user, batch_key=key, cost=cost)

    order = fair_order(
        [
            job(1, 1),
            job(2, 1),
            job(3, 1),
            job(4, 2, key="other-model"),
            job(5, 3, cost=200),  # would hold the batch back ten times as long
            job(6, 4, cost=5),  # shorter: always gains by joining
        ]
    )
    assert ids(pick_batch(order, 3)) == [1, 6, 2]
    assert ids(pick_batch(order, 8)) == [1, 6, 2, 3]
    assert ids(pick_batch(order, 8, skip=lambda j: j.id == 1)) == [4]


def test_jobs_without_a_batch_key_run_alone() -> None:
    order = fair_order([Waiting(1, 1), Waiting(2, 2)])
    assert ids(pick_batch(order, 8)) == [1]
    assert pick_batch([], 8) == []
