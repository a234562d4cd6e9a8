"""``tcns serve`` over real HTTP: the Telegram webhook through the real PTB Application to the
fake Bot API, the secret, redeliveries, /healthz, /metrics and the signed file URLs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from support import peek
from support.fakebotapi import FakeBotApi
from support.helpers import TZ
from support.serve import Served, free_port
from support.telegram import TOKEN

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.runtime.backend import database_from_url
from bot.runtime.settings import Settings
from bot.services.demo import seed_demo

SECRET = "webhook-secret-for-tests"
HEADER = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


async def night_commune(db_path: Path, content: Content) -> tuple[FixedClock, str]:
    """The demo commune in the file, at night (quiet hours: no reminder pushes among the replies
    a test counts): (clock, a member invite code)."""
    clock = FixedClock(datetime(2026, 11, 18, 22, 30, tzinfo=TZ))
    db = await database_from_url(str(db_path)).open()
    try:
        return clock, (await seed_demo(db, content, clock.now())).villages[0].member_code
    finally:
        await db.close()


@pytest.fixture
async def served(db_path: Path, content: Content) -> AsyncIterator[tuple[Served, FakeBotApi, str, FixedClock]]:
    """The demo commune behind ``tcns serve`` (SQLite), Telegram at the fake Bot API:
    (served, fake Bot API, a member invite code, clock)."""
    clock, code = await night_commune(db_path, content)
    port = free_port()
    async with FakeBotApi() as api:
        settings = Settings(TCNS_DB=str(db_path), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url,
                            TELEGRAM_FILE_BASE_URL=api.base_file_url, TELEGRAM_WEBHOOK_SECRET=SECRET,
                            TCNS_PUBLIC_URL=f"http://127.0.0.1:{port}", TCNS_FILE_SECRET="file-secret")
        async with Served(settings, clock, port=port) as served:
            yield served, api, code, clock


async def test_webhook_update_is_answered_through_ptb(served) -> None:
    app, api, code, _ = served
    assert api.webhook is not None  # registered at start, with the secret
    assert api.webhook["url"] == f"{app.url}/webhook/telegram"
    assert api.webhook["secret_token"] == SECRET
    lan = api.user(501, first_name="Lan")
    answer = await app.post_telegram(api, lan.message_update(f"/start {code}"), HEADER)
    assert answer.status_code == 200
    welcome = await lan.next_reply()
    assert "Chào mừng" in welcome.plain_text
    await lan.next_reply()  # first steps
    sent = len(api.calls_to("sendMessage"))
    answer = await app.post_telegram(api, lan.message_update("vneid 3"), HEADER)
    assert answer.status_code == 200
    # One plain message: it went back in the webhook's answer (Telegram sends it), not as a request.
    assert answer.json()["method"] == "sendMessage" and answer.json()["chat_id"] == 501
    assert "Đã ghi nhận" in (await lan.next_reply()).plain_text
    reports = await peek.live_reports(app.runtime.db, "service, count")
    assert reports == [("vneid", 3)]
    await lan.no_more_replies(0.2)
    assert len(api.calls_to("sendMessage")) == sent + 1  # the answer's call only: the bot sent no request of its own


async def test_wrong_or_missing_secret_is_refused_and_changes_nothing(served) -> None:
    app, api, code, _ = served
    lan = api.user(502, first_name="Lan")
    update = lan.message_update(f"/start {code}")
    for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}):
        answer = await app.post_telegram(api, update, headers)
        assert answer.status_code == 403
    await lan.no_more_replies()
    assert await peek.rows(app.runtime.db, "inbox", "update_key") == []  # not stored, not marked


async def test_redelivered_update_is_a_no_op(served) -> None:
    app, api, code, _ = served
    lan = api.user(503, first_name="Lan")
    first = lan.message_update(f"/start {code}")
    assert (await app.post_telegram(api, first, HEADER)).status_code == 200
    await lan.next_replies(2)
    report = lan.message_update("vneid 2")
    for _ in range(3):  # Telegram retries an update it thinks was not received
        assert (await app.post_telegram(api, report, HEADER)).status_code == 200
    await lan.next_reply()
    await lan.no_more_replies()
    assert await peek.live_reports(app.runtime.db, "service, count") == [("vneid", 2)]


async def test_a_burst_is_stored_together_and_each_update_handled_once(served) -> None:
    """Requests that arrive together share their store (one statement, one commit); each is
    answered 200 once its own update is stored, and one sent twice in the burst counts once."""
    app, api, code, _ = served
    people = [api.user(510 + n, first_name=f"TV {n}") for n in range(6)]
    joins = [person.message_update(f"/start {code}") for person in people]
    answers = await asyncio.gather(*(app.post_telegram(api, u, HEADER) for u in joins))
    assert [a.status_code for a in answers] == [200] * 6
    for person in people:
        await person.next_replies(2)
    reports = [person.message_update(f"vneid {n + 1}") for n, person in enumerate(people)]
    burst = [*reports, reports[0], reports[3]]  # two of them sent again while the burst is in flight
    answers = await asyncio.gather(*(app.post_telegram(api, u, HEADER) for u in burst))
    assert [a.status_code for a in answers] == [200] * 8
    for person in people:
        assert "Đã ghi nhận" in (await person.next_reply()).plain_text
        await person.no_more_replies(0.1)
    stored = await peek.live_reports(app.runtime.db, "service, count")
    assert sorted(stored) == [("vneid", n) for n in range(1, 7)]


async def test_a_store_that_failed_is_a_500_and_the_update_sent_again_is_handled(served, monkeypatch) -> None:
    app, api, code, _ = served
    lan = api.user(520, first_name="Lan")
    inbox = app.app.state.telegram.inbox
    engine = app.app.state.telegram.adapter.engine
    accept, handle_many = inbox.accept, engine.handle_many

    async def failing(updates):  # type: ignore[no-untyped-def]
        raise OSError("database gone")

    monkeypatch.setattr(inbox, "accept", failing)
    monkeypatch.setattr(engine, "handle_many", failing)  # neither handled in its request nor stored
    update = lan.message_update(f"/start {code}")
    assert (await app.post_telegram(api, update, HEADER)).status_code == 500
    await lan.no_more_replies(0.2)
    monkeypatch.setattr(inbox, "accept", accept)
    monkeypatch.setattr(engine, "handle_many", handle_many)
    assert (await app.post_telegram(api, update, HEADER)).status_code == 200  # Telegram again
    assert "Chào mừng" in (await lan.next_reply()).plain_text


async def test_a_group_that_could_not_be_handled_is_stored_and_handled_after(served, monkeypatch) -> None:
    """Handling a group in its requests failed (nothing of it committed): its updates are stored
    before the 200 and handled one by one by the dispatcher, each once."""
    app, api, code, _ = served
    people = [api.user(530 + n, first_name=f"TV {n}") for n in range(3)]
    for person in people:
        await app.post_telegram(api, person.message_update(f"/start {code}"), HEADER)
        await person.next_replies(2)
    engine = app.app.state.telegram.adapter.engine

    async def failing(inbounds):  # type: ignore[no-untyped-def]
        raise OSError("lost the connection")

    monkeypatch.setattr(engine, "handle_many", failing)
    reports = [person.message_update(f"cks {n + 1}") for n, person in enumerate(people)]
    answers = await asyncio.gather(*(app.post_telegram(api, u, HEADER) for u in reports))
    assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * 3  # stored; replies go as requests
    for person in people:
        assert "Đã ghi nhận" in (await person.next_reply()).plain_text
    assert sorted(await peek.live_reports(app.runtime.db, "service, count")) == [("chu_ky_so", n) for n in (1, 2, 3)]


async def test_a_reply_of_several_messages_goes_as_requests_in_order(served) -> None:
    """Only a reply that is one plain message goes in the webhook's answer: /start's welcome and
    first steps (two messages) are sent by the bot itself, in order, after the commit."""
    app, api, code, _ = served
    lan = api.user(540, first_name="Lan")
    answer = await app.post_telegram(api, lan.message_update(f"/start {code}"), HEADER)
    assert (answer.status_code, answer.content) == (200, b"")
    welcome, steps = await lan.next_replies(2)
    assert "Chào mừng" in welcome.plain_text and steps.plain_text != welcome.plain_text


async def test_not_an_update_is_refused(served) -> None:
    app, _, _, _ = served
    answer = await app.http.post("/webhook/telegram", content=b"not json", headers=HEADER)
    assert answer.status_code == 400
    assert await app.runtime.db.run(lambda uow: uow.inbox.count_waiting()) == 0


async def test_healthz_and_metrics(served) -> None:
    app, api, code, _ = served
    health = await app.http.get("/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    lan = api.user(504, first_name="Lan")
    update = lan.message_update(f"/start {code}")
    await app.post_telegram(api, update, HEADER)
    await app.post_telegram(api, update, HEADER)
    await lan.next_replies(2)
    text = (await app.http.get("/metrics")).text
    assert 'tcns_updates_received_total{channel="telegram",outcome="new"}' in text
    assert 'tcns_updates_received_total{channel="telegram",outcome="redelivered"}' in text
    assert 'tcns_replies_sent_total{channel="telegram"}' in text
    assert "tcns_update_handle_seconds_bucket" in text
    assert "tcns_webhook_store_seconds_bucket" in text
    assert 'tcns_webhook_group_updates_count{channel="telegram"}' in text  # how many go together
    assert "tcns_workers_live 1.0" in text


async def test_healthz_says_503_when_the_schema_is_behind(served) -> None:
    app, _, _, _ = served
    db = app.runtime.db
    async with db.uow() as uow:
        await uow.inbox.db.execute("DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) "
                                   "FROM schema_migrations)")
    health = await app.http.get("/healthz")
    assert health.status_code == 503 and health.json()["ok"] is False


async def test_signed_file_urls(served) -> None:
    app, _, _, clock = served
    files = app.runtime.files
    url = await files.publish(b"\x89PNG chart bytes", "bieu do.png")
    assert url.startswith(f"{app.url}/files/") and url.endswith("/bieu%20do.png")
    got = await app.http.get(url)
    assert got.status_code == 200
    assert got.content == b"\x89PNG chart bytes"
    assert got.headers["content-type"] == "image/png"
    token = url.split("/files/")[1].split("/")[0]
    file_id, expires, signature = token.split("-", 2)
    tampered = [f"{int(file_id) + 1}-{expires}-{signature}", f"{file_id}-{int(expires) + 3600}-{signature}",
                f"{file_id}-{expires}-{signature[:-2]}xx", "garbage"]
    for bad in tampered:
        assert (await app.http.get(f"/files/{bad}/x.png")).status_code == 404, bad
    clock.advance(minutes=16)  # the default lifetime is 15 minutes
    assert (await app.http.get(url)).status_code == 404


ZALO_SECRET = "zalo-webhook-secret"
ZALO_HEADER = {"X-Bot-Api-Secret-Token": ZALO_SECRET}


async def test_zalo_webhook_takes_both_body_shapes_once(db_path: Path, content: Content, caplog) -> None:
    from support.fakezaloapi import FakeZaloApi

    clock, code = await night_commune(db_path, content)
    port = free_port()
    async with FakeZaloApi() as api:
        settings = Settings(TCNS_DB=str(db_path), ZALO_BOT_TOKEN="zalo:TOKEN", ZALO_API_BASE_URL=api.base_url,
                            ZALO_WEBHOOK_SECRET=ZALO_SECRET, TCNS_PUBLIC_URL=f"http://127.0.0.1:{port}")
        caplog.set_level("INFO", logger="bot.runtime.serve")
        async with Served(settings, clock, port=port) as app:
            assert api.webhook_url == f"{app.url}/webhook/zalo" and api.webhook_secret == ZALO_SECRET
            said = [r.getMessage() for r in caplog.records if r.args == ("Zalo", app.url)]  # the mode, for the operator
            assert said and ("receiving by webhook" in said[0] or "nhận tin qua webhook" in said[0])
            user = api.user("z-901", "Lan")

            def event(text: str) -> dict:
                return user._event("message.text.received", {"id": user.chat_id, "chat_type": "PRIVATE"}, text=text)

            joined = event(f"/start {code}")
            wrapped = {"ok": True, "result": joined}  # the shape getUpdates answers
            assert (await app.http.post("/webhook/zalo", json=wrapped, headers={})).status_code == 403
            assert (await app.http.post("/webhook/zalo", json=wrapped, headers=ZALO_HEADER)).status_code == 200
            assert "Chào mừng" in (await user.next_reply()).text
            await user.replies_until_quiet()
            report = event("vneid 4")  # the bare event
            for _ in range(2):  # the second is a redelivery
                assert (await app.http.post("/webhook/zalo", json=report, headers=ZALO_HEADER)).status_code == 200
            replies = await user.replies_until_quiet(quiet=0.5)
            assert len(replies) == 1 and "Đã ghi nhận" in replies[0].text
            assert await peek.live_reports(app.runtime.db, "service, count") == [("vneid", 4)]
            assert 'tcns_replies_sent_total{channel="zalo"}' in (await app.http.get("/metrics")).text


async def test_zalo_webhook_secret_is_generated_from_the_token_when_not_set(db_path: Path, content: Content) -> None:
    from support.fakezaloapi import FakeZaloApi

    clock, _code = await night_commune(db_path, content)
    port = free_port()
    async with FakeZaloApi() as api:
        settings = Settings(TCNS_DB=str(db_path), ZALO_BOT_TOKEN="zalo:TOKEN", ZALO_API_BASE_URL=api.base_url,
                            ZALO_WEBHOOK_SECRET="", TCNS_PUBLIC_URL=f"http://127.0.0.1:{port}")
        async with Served(settings, clock, port=port) as app:
            secret = api.webhook_secret
            assert secret and re.fullmatch(r"[0-9a-f]{64}", secret) and "TOKEN" not in secret
            again = Settings(ZALO_BOT_TOKEN="zalo:TOKEN", ZALO_WEBHOOK_SECRET="")  # another worker, a restart
            assert secret == again.zalo_webhook_token
            user = api.user("z-902", "Lan")
            event = user._event("message.text.received", {"id": user.chat_id, "chat_type": "PRIVATE"}, text="/trogiup")
            assert (await app.http.post("/webhook/zalo", json=event,
                                        headers={"X-Bot-Api-Secret-Token": "x" * 64})).status_code == 403
            assert (await app.http.post("/webhook/zalo", json=event,
                                        headers={"X-Bot-Api-Secret-Token": secret})).status_code == 200
            assert (await user.next_reply()).text


def test_several_workers_on_sqlite_are_refused_in_vietnamese(tmp_path: Path, monkeypatch, capsys) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TCNS_DB", str(tmp_path / "tcns.db"))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    assert main(["serve", "--workers", "2"]) == 2
    said = capsys.readouterr().err
    assert "PostgreSQL" in said and "--workers 1" in said
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET")
    assert main(["serve"]) == 2
    assert "Thiếu TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().err


def test_json_logs_are_one_object_per_line() -> None:
    import json
    import logging

    from bot.runtime.logs import JsonFormatter

    try:
        raise ValueError("hỏng")
    except ValueError:
        record = logging.LogRecord("bot.x", logging.ERROR, __file__, 1, "chat %s: %s", ("42", "lỗi"), None)
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "bot.x" and entry["message"] == "chat 42: lỗi"
    assert "ValueError" in entry["exc"]


async def test_a_step_left_by_one_webhook_update_is_where_the_next_goes_on(served) -> None:
    """A group saves its conversations together at its end: the question a repeat asks is the
    step the member's next message answers ("1": record it again)."""
    app, api, code, _ = served
    lan = api.user(550, first_name="Lan")
    await app.post_telegram(api, lan.message_update(f"/start {code}"), HEADER)
    await lan.next_replies(2)
    for text in ("vneid 4", "vneid 4"):
        await app.post_telegram(api, lan.message_update(text), HEADER)
    assert "Đã ghi nhận" in (await lan.next_reply()).plain_text
    question = await lan.next_reply()
    assert question.buttons and "Đã ghi nhận" not in question.plain_text  # asked first: a repeat?
    await app.post_telegram(api, lan.message_update("1"), HEADER)
    assert "Đã ghi nhận" in (await lan.next_reply()).plain_text
    assert await peek.live_reports(app.runtime.db, "service, count") == [("vneid", 4), ("vneid", 4)]
