"""`ByteBudget`: bytes held at once stay within the capacity, in arrival order, and cancellation loses none."""

from __future__ import annotations

import anyio
import pytest

from memactor.net.budget import ByteBudget

pytestmark = pytest.mark.anyio


async def test_holders_wait_in_order_and_one_oversized_amount_goes_alone() -> None:
    budget = ByteBudget(100)
    order: list[str] = []

    async def hold(name: str, amount: int, event: anyio.Event) -> None:
        async with budget.hold(amount):
            order.append(name)
            assert budget.held <= max(budget.capacity, amount)
            await event.wait()

    first, big, small = anyio.Event(), anyio.Event(), anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(hold, "first", 60, first)
        await anyio.wait_all_tasks_blocked()
        group.start_soon(hold, "big", 500, big)  # larger than the budget: waits until nothing is held
        await anyio.wait_all_tasks_blocked()
        group.start_soon(hold, "small", 10, small)  # would fit now, but waits its turn behind "big"
        await anyio.wait_all_tasks_blocked()
        assert order == ["first"]
        first.set()
        await anyio.wait_all_tasks_blocked()
        assert order == ["first", "big"] and budget.held == 500
        big.set()
        await anyio.wait_all_tasks_blocked()
        small.set()
    assert order == ["first", "big", "small"] and budget.held == 0


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    budget = ByteBudget(100)
    await budget.acquire(50)
    got: list[int] = []
    cancelled = anyio.CancelScope()

    async def waiter(amount: int, scope: anyio.CancelScope | None = None) -> None:
        with scope or anyio.CancelScope():
            await budget.acquire(amount)
            got.append(amount)

    async with anyio.create_task_group() as group:
        group.start_soon(waiter, 80, cancelled)  # does not fit beside the 50 held
        await anyio.wait_all_tasks_blocked()
        group.start_soon(waiter, 10)  # fits, but waits its turn behind the 80
        await anyio.wait_all_tasks_blocked()
        assert got == []
        cancelled.cancel()  # the first in line leaves: the one behind it goes at once, without a release
        await anyio.wait_all_tasks_blocked()
        assert got == [10] and budget.held == 60
    budget.release(60)
    assert budget.held == 0
