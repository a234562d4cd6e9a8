"""The getUpdates answer: parsed as json.loads would, each update kept as the text Telegram sent
(what the inbox stores), and any other shape left to the ordinary parse."""

from __future__ import annotations

import json

from telegram import Bot, Update

from bot.handlers.telegram import KeepsRawUpdates, _updates_answer, to_inbound

UPDATES = [
    {"update_id": 7, "message": {"message_id": 1, "date": 1, "text": "vneid 3 \u0111\u00e3 xong \u2705",
                                 "chat": {"id": 42, "type": "private"},
                                 "from": {"id": 42, "is_bot": False, "first_name": "Lan"}}},
    {"update_id": 8, "callback_query": {"id": "c", "data": "g:undo:x", "chat_instance": "i",
                                        "from": {"id": 42, "is_bot": False, "first_name": "Lan"}}},
]


def test_an_answer_is_read_as_json_and_each_update_kept_as_sent() -> None:
    for text in ('{"ok":true,"result":' + json.dumps(UPDATES, separators=(",", ":")) + "}",
                 '{ "ok": true, "result": [\n' + ",\n ".join(json.dumps(u) for u in UPDATES) + " ] }\n",
                 json.dumps({"ok": True, "result": UPDATES}, ensure_ascii=True)):
        read = _updates_answer(text)
        assert read is not None
        data, raw = read
        assert data == json.loads(text)
        assert sorted(raw) == [7, 8] and [json.loads(raw[u["update_id"]]) for u in UPDATES] == UPDATES
    assert _updates_answer('{"ok":true,"result":[]}') == ({"ok": True, "result": []}, {})


def test_other_answers_are_left_to_the_ordinary_parse() -> None:
    for text in ('{"ok":false,"error_code":409,"description":"Conflict"}',
                 '{"result":[],"ok":true}',  # another key order
                 '{"ok":true,"result":[{"update_id":1}],"extra":1}',
                 '{"ok":true,"result":[{"update_id":1}',  # cut short
                 '{"ok":true,"result":[1,2]}', '{"ok":true,"result":true}'):
        assert _updates_answer(text) is None, text

    class Request(KeepsRawUpdates):
        pass

    request = Request()
    assert request.parse_json_payload(b'{"result":[{"update_id":3}],"ok":true}') == {
        "result": [{"update_id": 3}], "ok": True}
    assert request.take_raw_updates() == {3: '{"update_id":3}'}
    assert request.parse_json_payload(b'{"ok":true,"result":[{"update_id":4, "x": 1}]}')["result"][0]["x"] == 1
    assert request.take_raw_updates() == {4: '{"update_id":4, "x": 1}'}


def test_a_text_message_is_not_media_and_a_captioned_photo_is() -> None:
    bot = Bot("123:abc")
    text = to_inbound(Update.de_json(UPDATES[0], bot))
    assert text is not None and text.text == UPDATES[0]["message"]["text"] and not text.media
    photo = dict(UPDATES[0]["message"], text=None, caption="cks 2",
                 photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}])
    inbound = to_inbound(Update.de_json({"update_id": 9, "message": photo}, bot))
    assert inbound is not None and inbound.text == "cks 2" and inbound.media
