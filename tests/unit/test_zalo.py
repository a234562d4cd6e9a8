"""Zalo adapter pieces that need no server: reading events, splitting long replies."""

from __future__ import annotations

from bot.handlers.zalo import (
    MAX_TEXT,
    event_of,
    is_protected,
    secret_matches,
    split_text,
    stored_form,
    to_inbound,
)


def event(text: str | None = "vneid 5", *, name: str = "message.text.received", chat_type: str = "PRIVATE",
          chat_id: str = "u1", **message: object) -> dict:
    body: dict = {"from": {"id": "u1", "display_name": "Lan", "is_bot": False},
                  "chat": {"id": chat_id, "chat_type": chat_type}, "message_id": "m1", "date": 1_764_000_000_000}
    if text is not None:
        body["text"] = text
    body.update(message)
    return {"event_name": name, "message": body}


def test_a_private_text_message_becomes_an_inbound_keyed_by_its_message_id():
    inbound = to_inbound(event())
    assert inbound is not None
    assert (inbound.channel, inbound.update_key, inbound.user_id, inbound.chat_id) == ("zalo", "m1", "u1", "u1")
    assert (inbound.text, inbound.display_name, inbound.choice, inbound.invite_link) == ("vneid 5", "Lan", None, None)


def test_a_photo_caption_is_read_as_typed_and_the_photo_is_never_kept():
    photo = event(None, name="message.image.received", photo="https://x/cccd.jpg", caption="vneid 3")
    inbound = to_inbound(photo)
    assert inbound is not None and inbound.text == "vneid 3" and inbound.media
    stored = stored_form(photo)
    assert "cccd" not in repr(stored).lower() and stored["message"]["caption"] == "vneid 3"
    assert photo["message"]["photo"] == "https://x/cccd.jpg"  # the event in hand is left as it was
    bare = to_inbound(event(None, name="message.image.received", photo="https://x/a.jpg"))
    sticker = to_inbound(event(None, name="message.sticker.received", sticker="s1"))
    assert bare is not None and sticker is not None
    assert bare.text == "" and sticker.text == ""  # the engine answers "text only, no document photos"


def test_a_protected_senders_event_is_no_inbound():
    unsupported = event(None, name="message.unsupported.received")
    assert is_protected(unsupported) and to_inbound(unsupported) is None


def test_webhook_bodies_of_both_shapes_give_the_same_event():
    plain = event()
    assert event_of({"ok": True, "result": plain}) == plain == event_of(plain)
    for junk in (None, [], "x", {"ok": True}, {"ok": True, "result": {"message": {}}}, {"event_name": "x"}):
        assert event_of(junk) is None


def test_the_webhook_secret_is_compared_exactly():
    assert secret_matches("s3cret-token", "s3cret-token")
    assert not secret_matches("s3cret-token", "s3cret-tokem")
    assert not secret_matches("s3cret-token", None) and not secret_matches("", "")


def test_groups_bots_and_malformed_events_are_ignored():
    assert to_inbound(event(chat_type="GROUP", chat_id="g1")) is None
    bot_event = event()
    bot_event["message"]["from"]["is_bot"] = True
    assert to_inbound(bot_event) is None
    assert to_inbound({"event_name": "message.text.received"}) is None
    assert to_inbound({"event_name": "message.text.received", "message": {"text": "x"}}) is None


def test_long_replies_are_split_at_line_ends_and_nothing_is_lost():
    lines = [f"Ấp số {n}: {n * 7} hộ" for n in range(400)]
    text = "\n".join(lines)
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p) <= MAX_TEXT for p in parts)
    assert "\n".join(parts) == text  # cut only between lines
    assert split_text("ngắn") == ["ngắn"]
    huge = "x" * (MAX_TEXT * 2 + 5)  # one line longer than a part is cut inside the line
    assert [len(p) for p in split_text(huge)] == [MAX_TEXT, MAX_TEXT, 5]
