"""The fake Zalo Bot API server, exercised over real HTTP with plain httpx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from support.fakezaloapi import FakeZaloApi, SentMessage

TOKEN = "987654321:zalo-test-token"


@pytest.fixture
async def server() -> AsyncIterator[FakeZaloApi]:
    async with FakeZaloApi() as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def call(
    server: FakeZaloApi, client: httpx.AsyncClient, method: str, expect_status: int = 200, **params: Any
) -> dict[str, Any]:
    """POST ``params`` as JSON to ``method``; check the HTTP status and return the decoded answer."""
    response = await client.post(f"{server.base_url}{TOKEN}/{method}", json=params)
    assert response.status_code == expect_status, response.text
    return response.json()


async def test_base_url_and_get_me(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/bot"
    answer = await call(server, client, "getMe")
    assert answer == {
        "ok": True,
        "result": {"id": "987654321", "account_name": "bot.tcns", "account_type": "BASIC", "can_join_groups": True},
    }
    assert server.token_seen == TOKEN
    assert server.calls_to("getMe")[0].method == "getMe" and server.calls_to("GETME") == []


async def test_method_names_are_case_sensitive_and_bodies_may_be_form_query_or_empty(
    server: FakeZaloApi, client: httpx.AsyncClient
) -> None:
    lan = server.user("1001", "Lan")
    wrong = await client.post(f"{server.base_url}{TOKEN}/SENDMESSAGE", data={"chat_id": "1001", "text": "chào"})
    assert wrong.json()["ok"] is False and wrong.json()["error_code"] == 400
    assert "sendMessage" in wrong.json()["description"]
    assert (await client.post(f"{server.base_url}{TOKEN}/getme")).json()["error_code"] == 400
    assert lan.messages == []
    form = await client.post(f"{server.base_url}{TOKEN}/sendMessage", data={"chat_id": "1001", "text": "chào"})
    assert form.json()["ok"] is True
    query = await client.get(f"{server.base_url}{TOKEN}/sendMessage", params={"chat_id": "1001", "text": "hi"})
    assert query.json()["ok"] is True
    assert [m.text for m in lan.messages] == ["chào", "hi"]
    assert (await client.post(f"{server.base_url}{TOKEN}/getMe")).json()["ok"] is True
    assert server.unknown_methods == ["SENDMESSAGE", "getme"]


async def test_text_event_round_trip(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001", "Lan")
    before_ms = int(time.time() * 1000)
    message_id = await lan.send("xin chào")
    answer = await call(server, client, "getUpdates", timeout="5")
    assert answer["ok"] is True
    event = answer["result"]
    assert event == {
        "event_name": "message.text.received",
        "message": {
            "from": {"id": "1001", "display_name": "Lan", "is_bot": False},
            "chat": {"id": "1001", "chat_type": "PRIVATE"},
            "text": "xin chào",
            "message_id": message_id,
            "date": event["message"]["date"],
        },
    }
    assert isinstance(message_id, str) and message_id
    assert before_ms - 1000 <= event["message"]["date"] <= int(time.time() * 1000) + 1000  # milliseconds
    await server.wait_until_delivered(timeout=1)

    # Consumed: the next poll does not see it again.
    again = await call(server, client, "getUpdates", timeout=0)
    assert again == {"ok": False, "error_code": 408, "description": "Request timeout"}


async def test_events_come_one_per_call_in_order(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    first, second = await lan.send("một"), await lan.send("hai")
    assert first != second
    got = [(await call(server, client, "getUpdates", timeout=1))["result"]["message"]["message_id"] for _ in "ab"]
    assert got == [first, second]


async def test_long_poll_times_out_with_408_when_idle(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    answer = await call(server, client, "getUpdates", timeout=1)
    assert answer == {"ok": False, "error_code": 408, "description": "Request timeout"}
    assert 0.9 < time.monotonic() - started < 2
    assert server.errors == []  # an idle poll is routine, not an error


async def test_long_poll_returns_at_once_when_an_event_arrives(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    started = time.monotonic()
    poll = asyncio.create_task(call(server, client, "getUpdates", timeout=30))
    await server.wait_until(lambda: server.calls_to("getUpdates"), what="the poll")
    await asyncio.sleep(0.1)
    assert not poll.done()
    message_id = await lan.send("đây")
    answer = await asyncio.wait_for(poll, 2)
    assert answer["result"]["message"]["message_id"] == message_id
    assert time.monotonic() - started < 2


async def test_send_message_is_recorded_and_read_with_next_reply(
    server: FakeZaloApi, client: httpx.AsyncClient
) -> None:
    lan = server.user("1001", "Lan")
    answer = await call(server, client, "sendMessage", chat_id="1001", text="Xin chào Lan")
    assert answer["ok"] is True
    assert isinstance(answer["result"]["message_id"], str)
    assert abs(answer["result"]["date"] - time.time() * 1000) < 60_000
    await call(server, client, "sendPhoto", chat_id="1001", photo="https://example.com/a.png", caption="Ảnh")

    reply = await lan.next_reply()
    assert reply == SentMessage("1001", "Xin chào Lan", answer["result"]["message_id"])
    photo = await lan.next_reply()
    assert (photo.text, photo.photo, photo.caption) == (None, "https://example.com/a.png", "Ảnh")
    assert server.messages("1001") == [reply, photo] == lan.messages
    with pytest.raises(AssertionError, match="timed out"):
        await lan.next_reply(timeout=0.2)
    assert server.calls_to("sendMessage")[0].params == {"chat_id": "1001", "text": "Xin chào Lan"}


async def test_replies_until_quiet_collects_a_burst(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")

    async def burst() -> None:
        for text in ("một", "hai", "ba"):
            await call(server, client, "sendMessage", chat_id="1001", text=text)
            await asyncio.sleep(0.1)

    sender = asyncio.create_task(burst())
    replies = await lan.replies_until_quiet(quiet=0.4, timeout=5)
    await sender
    assert [r.text for r in replies] == ["một", "hai", "ba"]
    assert await lan.replies_until_quiet(quiet=0.1) == []


async def test_chat_not_found_and_text_checks(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    server.user("1001")
    unknown = await call(server, client, "sendMessage", chat_id="999", text="hi")
    assert (unknown["ok"], unknown["error_code"]) == (False, 400)
    assert "chat not found" in unknown["description"]

    too_long = await call(server, client, "sendMessage", chat_id="1001", text="a" * 2001)
    assert too_long["error_code"] == 400 and "2000" in too_long["description"]
    empty = await call(server, client, "sendMessage", chat_id="1001", text="")
    assert empty["error_code"] == 400
    assert (await call(server, client, "sendMessage", chat_id="1001", text="a" * 2000))["ok"] is True

    assert [e.error_code for e in server.errors] == [400, 400, 400]
    assert len(server.messages("1001")) == 1


async def test_403_is_an_internal_server_error_and_says_nothing_about_the_user(
    server: FakeZaloApi, client: httpx.AsyncClient
) -> None:
    lan = server.user("1001")
    server.internal_error("sendMessage", times=2)
    for _ in range(2):
        answer = await call(server, client, "sendMessage", chat_id="1001", text="hi")
        assert answer == {"ok": False, "error_code": 403, "description": "Internal server error"}
    assert (await call(server, client, "sendMessage", chat_id="1001", text="hi"))["ok"] is True
    assert len(lan.messages) == 1  # the same user, reachable as before


async def test_429_quota_exceeded_lasts_until_the_quota_resets(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    server.exhaust_quota()
    for method, params in (("sendMessage", {"text": "hi"}), ("sendPhoto", {"photo": "https://e.x/a.png"})):
        answer = await call(server, client, method, chat_id="1001", **params)
        assert answer == {"ok": False, "error_code": 429, "description": "Quota exceeded"}  # no retry_after
    assert (await call(server, client, "getMe"))["ok"] is True  # only sending is refused
    server.reset_quota()
    assert (await call(server, client, "sendMessage", chat_id="1001", text="hi"))["ok"] is True
    assert len(lan.messages) == 1


async def test_a_revoked_token_gets_401_everywhere(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    server.revoke_token()
    for method in ("getMe", "getUpdates", "sendMessage"):
        assert (await call(server, client, method, timeout="0"))["error_code"] == 401


async def test_fail_next_is_not_carried_out(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    server.fail_next("sendMessage", status=502)
    answer = await call(server, client, "sendMessage", expect_status=502, chat_id="1001", text="hi")
    assert answer["ok"] is False and answer["error_code"] == 502
    assert lan.messages == []
    assert (await call(server, client, "sendMessage", chat_id="1001", text="hi"))["ok"] is True
    assert len(lan.messages) == 1
    assert len(server.calls_to("sendMessage")) == 2


async def test_lose_answer_carries_out_but_answers_late(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    server.lose_answer("sendMessage", hold=1.0)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(f"{server.base_url}{TOKEN}/sendMessage", json={"chat_id": "1001", "text": "hi"}, timeout=0.3)
    assert [m.text for m in lan.messages] == ["hi"]  # delivered although the client saw a timeout
    started = time.monotonic()
    assert (await call(server, client, "sendMessage", chat_id="1001", text="again"))["ok"] is True
    assert time.monotonic() - started < 0.5  # only the next call was held


async def test_redeliver_last_repeats_the_same_message_id(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    with pytest.raises(RuntimeError):
        server.redeliver_last()
    message_id = await lan.send("một lần")
    first = await call(server, client, "getUpdates", timeout=1)
    assert server.redeliver_last() == message_id
    second = await call(server, client, "getUpdates", timeout=1)
    assert second["result"]["message"]["message_id"] == first["result"]["message"]["message_id"] == message_id
    assert (await call(server, client, "getUpdates", timeout=0))["error_code"] == 408


async def test_webhook_blocks_polling_until_deleted(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    assert (await call(server, client, "getWebhookInfo"))["result"]["url"] == ""
    short = await call(server, client, "setWebhook", url="https://example.com/hook", secret_token="short")
    assert short["error_code"] == 400  # 8 to 256 characters
    hook = await call(server, client, "setWebhook", url="http://127.0.0.1:9/hook", secret_token="s3cret-token")
    assert hook == {"ok": True, "result": True}
    assert (await call(server, client, "getWebhookInfo"))["result"]["url"] == "http://127.0.0.1:9/hook"
    assert server.webhook_secret == "s3cret-token"

    conflict = await call(server, client, "getUpdates", timeout="1")
    assert conflict["ok"] is False and conflict["error_code"] == 400
    assert "webhook" in conflict["description"].lower()

    assert (await call(server, client, "deleteWebhook"))["result"] is True
    lan = server.user("1001")
    message_id = await lan.send("hi")
    answer = await call(server, client, "getUpdates", timeout="1")
    assert answer["result"]["message"]["message_id"] == message_id


async def test_events_are_pushed_to_the_webhook_in_both_shapes_with_the_secret(
    server: FakeZaloApi, client: httpx.AsyncClient
) -> None:
    received: list[tuple[str | None, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        await call(server, client, "setWebhook", url=f"http://127.0.0.1:{port}/hook", secret_token="s3cret-token")
        lan = server.user("1001", "Lan")
        first = await lan.send("một")
        server.webhook_shape = "bare"
        second = await lan.send("hai")
        await server.wait_until_pushed()
        assert [s for s, _ in received] == ["s3cret-token", "s3cret-token"]
        wrapped, bare = received[0][1], received[1][1]
        assert wrapped["ok"] is True and wrapped["result"]["message"]["message_id"] == first
        assert bare["event_name"] == "message.text.received" and bare["message"]["message_id"] == second
        assert await server.push(bare, secret="forged-secret") == 200 and received[-1][0] == "forged-secret"
        assert [status for status, _ in server.webhook_deliveries] == [200, 200, 200]
        assert server.pending_events == []  # nothing waits for getUpdates
    finally:
        await runner.cleanup()


async def test_unknown_method_is_404_and_recorded(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    answer = await call(server, client, "sendDocument", expect_status=404, chat_id="1")
    assert answer == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert server.unknown_methods == ["sendDocument"]


async def test_photo_and_sticker_events_have_no_text(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    await lan.send_photo("https://example.com/p.jpg", caption="Báo cáo")
    await lan.send_photo("https://example.com/q.jpg")
    await lan.send_sticker("xyz")
    photo, bare, sticker = [(await call(server, client, "getUpdates", timeout=1))["result"] for _ in range(3)]

    assert photo["event_name"] == "message.image.received"
    assert photo["message"]["photo"] == "https://example.com/p.jpg"
    assert photo["message"]["caption"] == "Báo cáo"
    assert "text" not in photo["message"]
    assert "caption" not in bare["message"] and "text" not in bare["message"]
    assert sticker["event_name"] == "message.sticker.received"
    assert sticker["message"]["sticker"] == "xyz" and "text" not in sticker["message"]


async def test_a_protected_sender_comes_as_an_unsupported_event_without_content(
    server: FakeZaloApi, client: httpx.AsyncClient
) -> None:
    child = server.user("1002", "Bé")
    message_id = await child.send_protected()
    event = (await call(server, client, "getUpdates", timeout="1"))["result"]
    assert event["event_name"] == "message.unsupported.received"
    assert event["message"]["message_id"] == message_id and event["message"]["from"]["id"] == "1002"
    assert not {"text", "photo", "caption", "sticker"} & set(event["message"])


async def test_group_message_and_reply_to_group(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001", "Lan")
    # Unknown until someone posts in it.
    assert (await call(server, client, "sendMessage", chat_id="g-77", text="hi"))["error_code"] == 400
    message_id = await lan.send_in_group("g-77", "chào nhóm")
    event = (await call(server, client, "getUpdates", timeout=1))["result"]
    assert event["event_name"] == "message.text.received"
    assert event["message"]["chat"] == {"id": "g-77", "chat_type": "GROUP"}
    assert event["message"]["from"]["id"] == "1001" != event["message"]["chat"]["id"]
    assert event["message"]["message_id"] == message_id

    assert (await call(server, client, "sendMessage", chat_id="g-77", text="chào Lan"))["ok"] is True
    assert [m.text for m in server.messages("g-77")] == ["chào Lan"]
    assert lan.messages == []  # the private chat is separate


async def test_send_chat_action(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    server.user("1001")
    assert await call(server, client, "sendChatAction", chat_id="1001", action="typing") == {"ok": True, "result": True}
    assert (await call(server, client, "sendChatAction", chat_id="42", action="typing"))["error_code"] == 400


async def test_ids_are_hex_strings(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    message_id = await lan.send("x")
    sent = (await call(server, client, "sendMessage", chat_id="1001", text="y"))["result"]["message_id"]
    for value in (message_id, sent):
        assert isinstance(value, str) and int(value, 16) >= 0


async def test_stop_releases_a_pending_long_poll_at_once(client: httpx.AsyncClient) -> None:
    fake = await FakeZaloApi().start()
    try:
        poll = asyncio.create_task(call(fake, client, "getUpdates", timeout=30))
        await fake.wait_until(lambda: fake.calls_to("getUpdates"), what="the poll")
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await fake.stop()
        answer = await asyncio.wait_for(poll, 3)
        assert answer["error_code"] == 408
        assert time.monotonic() - started < 1.5
    finally:
        await fake.stop()


async def test_a_newer_poll_supersedes_a_waiting_one(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    old = asyncio.create_task(call(server, client, "getUpdates", timeout=30))
    await server.wait_until(lambda: server.calls_to("getUpdates"), what="the first poll")
    await asyncio.sleep(0.1)
    new = asyncio.create_task(call(server, client, "getUpdates", timeout=30))
    assert (await asyncio.wait_for(old, 2))["error_code"] == 408
    message_id = await lan.send("hi")
    assert (await asyncio.wait_for(new, 2))["result"]["message"]["message_id"] == message_id


async def test_an_abandoned_poll_does_not_swallow_an_event(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    lan = server.user("1001")
    with pytest.raises(httpx.ReadTimeout):
        await client.post(f"{server.base_url}{TOKEN}/getUpdates", json={"timeout": 30}, timeout=0.3)
    await asyncio.sleep(0.1)
    message_id = await lan.send("hi")
    await asyncio.sleep(0.2)  # the abandoned poll wakes up, sees its client gone and leaves the event
    assert [e["message"]["message_id"] for e in server.pending_events] == [message_id]
    answer = await call(server, client, "getUpdates", timeout=1)
    assert answer["result"]["message"]["message_id"] == message_id


async def test_send_photo_takes_a_url_and_can_fetch_it(server: FakeZaloApi, client: httpx.AsyncClient) -> None:
    server.user("1001")
    assert (await call(server, client, "sendPhoto", chat_id="1001", photo="/tmp/a.png"))["error_code"] == 400
    server.fetch_photos = True
    unreachable = await call(server, client, "sendPhoto", chat_id="1001", photo="http://127.0.0.1:9/a.png")
    assert unreachable["error_code"] == 400 and "fetch" in unreachable["description"]
    own = f"http://127.0.0.1:{server.port}/bot{TOKEN}/getMe"  # any URL that answers 200
    assert (await call(server, client, "sendPhoto", chat_id="1001", photo=own))["ok"] is True
    assert server.messages("1001")[-1].photo_bytes is not None
