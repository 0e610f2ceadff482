"""The engine API's commands (issue 28): each call is its own unit of work and refuses
bad input without changing anything."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.api import interactions as api_interactions
from engine.api import lookups
from engine.api import settings as api_settings
from engine.errors import UserError

from .world import World, action, email, tag

LINKED = '<a href="https://example.com/x">x</a>'


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def test_a_click_is_recorded_and_its_0_delay_child_runs_in_the_same_call(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(
        email("mail", body=LINKED),
        action("clicked", tag("Clicked"), parent="mail", trigger="mail_click"),
    )
    w.run()
    res = api_interactions.record_on_message(
        w.db, w.clock, str(cid), "mail", "ann@example.com", "click", url="https://example.com/x"
    )
    assert (res.recorded, res.first_time, res.triggered, res.executed) == (True, True, 1, 1)
    assert w.traces(cid, "clicked")["Ann"]["state"] == "processed"
    again = api_interactions.record_on_trace(w.db, w.clock, res.trace_id, "click")
    assert (again.recorded, again.first_time, again.executed) == (True, False, 0)


def test_a_url_that_is_not_a_link_of_the_message_is_refused_and_records_nothing(
    w: World,
) -> None:
    w.people("Ann")
    cid = w.campaign(email("mail", body=LINKED))
    w.run()
    with pytest.raises(UserError, match=r"not a link of that message \(links: https://example"):
        api_interactions.record_on_message(
            w.db, w.clock, str(cid), "mail", "ann@example.com", "click", url="https://evil.example/"
        )
    res = api_interactions.record_on_message(
        w.db, w.clock, str(cid), "mail", "ann@example.com", "click"
    )
    assert res.first_time  # the refused click had counted nothing


def test_settings_are_saved_all_or_none(w: World) -> None:
    with pytest.raises(api_settings.SettingsRefused) as refused:
        api_settings.save(w.db, {"engine.batch_size": "10", "smtp.url": "ftp://nowhere"})
    assert list(refused.value.failed) == ["smtp.url"]
    assert "engine.batch_size" not in api_settings.stored(w.db)  # rolled back with it
    assert api_settings.save(w.db, {"engine.batch_size": "10"}) == {"engine.batch_size": 10}
    assert api_settings.stored(w.db)["engine.batch_size"] == 10
    assert api_settings.value(w.db, "engine.batch_size") == 10
    assert api_settings.effective(w.db)["engine.batch_size"] == 10
    assert api_settings.save(w.db, {"engine.batch_size": ""}) == {
        "engine.batch_size": api_settings.SPECS["engine.batch_size"].default
    }
    assert "engine.batch_size" not in api_settings.stored(w.db)


def test_lookups_answer_plain_values(w: World) -> None:
    w.people("Ann", "Bob")
    cid = w.campaign(
        email("mail"), action("later", tag("L"), parent="mail", trigger="activity", delay=1)
    )
    w.run()
    assert lookups.matching_count(w.db, cid, w.clock.now()) == 2
    assert lookups.matching_count(w.db, 10**9, w.clock.now()) is None
    assert lookups.traces_due(w.db, w.clock.now()) == 0
    assert lookups.traces_due(w.db, None) == 0
    assert lookups.traces_due(w.db, w.clock.now() + timedelta(hours=2)) == 2
    sent = lookups.outbox(w.db, str(cid))
    assert sorted(m["record"] for m in sent) == ["Ann", "Bob"]
    assert all(isinstance(m["sent_at"], str) for m in sent)
    assert lookups.saved_actions(w.db, cid) == {}
    assert lookups.untrusted_actions(w.db, cid) == 0
