"""The lease a call holds in the dialplan while it is in our IVR (gateway/lease.py).

AMI is a recording stand-in here (the real one is tested against a real Asterisk in
tests/asterisk: SIGSTOP → 110 within the lease); time is a hand-moved clock."""

from __future__ import annotations

import asyncio

import pytest

from gateway.lease import STALE_MARGIN, CallLease, CallLeases


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class RecordingAmi:
    def __init__(self) -> None:
        self.written: list[tuple[str, str, str]] = []
        self.fail = False

    async def setvar(self, channel: str | None, variable: str, value: str) -> None:
        self.written.append((channel or "", variable, value))  # "written" before any await
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("AMI is not connected")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ami() -> RecordingAmi:
    return RecordingAmi()


@pytest.fixture
def leases(ami: RecordingAmi, clock: Clock) -> CallLeases:
    return CallLeases(ami, lease=4.0, every=1.0, clock=clock)


async def test_holding_a_call_renews_its_lease_at_once_and_then_every_round(
    leases: CallLeases, ami: RecordingAmi, clock: Clock
) -> None:
    assert await leases.hold("PJSIP/a-1", max_hold=30)
    clock.now += 1.0
    await asyncio.gather(*leases.renew_all())
    assert ami.written == [("PJSIP/a-1", "TIMEOUT(absolute)", "4")] * 2
    assert leases.fresh("PJSIP/a-1")


async def test_no_renewal_is_written_after_release_even_one_already_scheduled(
    leases: CallLeases, ami: RecordingAmi
) -> None:
    await leases.hold("PJSIP/a-1", max_hold=30)
    scheduled = leases.renew_all()  # tasks created, not yet run
    CallLease(leases, "PJSIP/a-1").release()  # the session is about to Redirect
    await asyncio.gather(*scheduled)
    assert len(ami.written) == 1  # only the renewal made by hold()
    assert not leases.fresh("PJSIP/a-1")


async def test_a_lease_goes_stale_when_renewals_stop_arriving(
    leases: CallLeases, ami: RecordingAmi, clock: Clock
) -> None:
    await leases.hold("PJSIP/a-1", max_hold=30)
    clock.now += 4.0 - STALE_MARGIN - 0.01
    assert leases.fresh("PJSIP/a-1")
    clock.now += 0.02
    assert not leases.fresh("PJSIP/a-1")  # a Redirect now could race the dialplan's 110


async def test_a_lapsed_lease_is_never_renewed_again(
    leases: CallLeases, ami: RecordingAmi, clock: Clock
) -> None:
    """Found on a real Asterisk: a gateway woken from SIGSTOP renewed first, re-arming the
    timeout of a call already in route-110, then looked fresh and Redirected it."""
    await leases.hold("PJSIP/a-1", max_hold=30)
    clock.now += 3.5  # the process was frozen
    await asyncio.gather(*leases.renew_all())
    assert len(ami.written) == 1
    assert not leases.fresh("PJSIP/a-1") and leases.held() == []


async def test_failed_renewals_do_not_count(
    leases: CallLeases, ami: RecordingAmi, clock: Clock
) -> None:
    await leases.hold("PJSIP/a-1", max_hold=30)
    ami.fail = True
    for _ in range(3):
        clock.now += 1.0
        await asyncio.gather(*leases.renew_all())
    assert not leases.fresh("PJSIP/a-1")


async def test_a_session_past_its_budget_loses_its_lease(
    leases: CallLeases, ami: RecordingAmi, clock: Clock
) -> None:
    await leases.hold("PJSIP/a-1", max_hold=2.5)
    for _ in range(3):
        clock.now += 1.0
        await asyncio.gather(*leases.renew_all())
    assert len(ami.written) == 3  # hold + 2 rounds; the third round is past the budget
