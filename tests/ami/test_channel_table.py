"""The channel table's rebuild after a reconnect (pure, synchronous)."""

from __future__ import annotations

from gateway.ami.channels import ChannelTable
from gateway.ami.events import ChannelListing, ChannelSnapshot, Hangup, Newchannel, VarSet


def snap(n: int, context: str = "gateway-in") -> ChannelSnapshot:
    return ChannelSnapshot(
        channel=f"PJSIP/carrier-in-{n:08x}", uniqueid=f"1.{n}", context=context, state=6
    )


def listing(n: int, context: str = "gateway-in") -> ChannelListing:
    return ChannelListing(
        name="CoreShowChannel",
        headers=[],
        channel=snap(n, context),
        application="AudioSocket",
        application_data="u,127.0.0.1:9092",
        bridge_id="",
        duration="00:00:01",
    )


def test_snapshot_keeps_known_variables_and_drops_vanished_calls() -> None:
    table = ChannelTable()
    table.apply(Newchannel(name="Newchannel", headers=[], channel=snap(1)))
    table.apply(VarSet(name="VarSet", headers=[], channel=snap(1), variable="GW_UUID", value="abc"))
    table.apply(Newchannel(name="Newchannel", headers=[], channel=snap(2)))
    table.begin_resync()
    vanished = table.apply_snapshot([listing(1, "route-12345"), listing(3)])
    assert [c.uniqueid for c in vanished] == ["1.2"]
    kept = table.get("1.1")
    assert kept is not None and kept.uuid == "abc" and kept.context == "route-12345"
    added = table.get("1.3")
    assert added is not None and added.application == "AudioSocket"


def test_events_during_the_snapshot_win_over_it() -> None:
    table = ChannelTable()
    table.apply(Newchannel(name="Newchannel", headers=[], channel=snap(1)))
    table.begin_resync()
    table.apply(Hangup(name="Hangup", headers=[], channel=snap(1), cause=16, cause_txt=""))
    table.apply(Newchannel(name="Newchannel", headers=[], channel=snap(2)))
    table.apply_snapshot([listing(1)])  # taken before the hang-up and the new call
    assert table.get("1.1") is None
    assert table.get("1.2") is not None


def test_untracked_variables_are_not_kept() -> None:
    table = ChannelTable()
    table.apply(
        VarSet(name="VarSet", headers=[], channel=snap(1), variable="DIALSTATUS", value="ANSWER")
    )
    channel = table.get("1.1")
    assert channel is not None and channel.variables == {}
