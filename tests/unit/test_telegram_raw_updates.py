"""The getUpdates answer: parsed as json.loads would, each update kept as the text Telegram sent
(what the inbox stores), and any other shape left to the ordinary parse."""

from __future__ import annotations

import json

from telegram import Bot, Update

from bot.handlers.telegram import KeepsRawUpdates, _updates_answer, text_inbound, to_inbound

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


def private_text(update_id: int, text: str, **user: object) -> dict:
    sender = {"id": 42, "is_bot": False, "first_name": "Lan", **user}
    return {"update_id": update_id, "message": {"message_id": update_id, "date": 1, "text": text,
                                                "chat": {"id": 42, "type": "private", "first_name": "Lan"},
                                                "from": sender}}


def test_a_private_text_is_read_from_its_json_as_ptbs_objects_read_it() -> None:
    bot = Bot("123:abc")
    texts = [
        UPDATES[0],
        private_text(10, "cks 2", last_name="Nguyễn Thị", username="lan"),
        private_text(11, "/baocao@tcns_bot", first_name="Ông \U0001F600", language_code="vi"),
        dict(private_text(12, "vneid 5"), message=dict(private_text(12, "vneid 5")["message"],
             entities=[{"type": "bold", "offset": 0, "length": 5}], reply_to_message=UPDATES[0]["message"])),
    ]
    for update in texts:
        fast = text_inbound(json.loads(json.dumps(update)), "tcns_bot")
        assert fast is not None and fast == to_inbound(Update.de_json(update, bot), "tcns_bot"), update
    assert text_inbound(UPDATES[0]) == to_inbound(Update.de_json(UPDATES[0], bot))  # no invite link without a name

    group = private_text(13, "vneid 5")
    group["message"]["chat"] = {"id": -100, "type": "group", "title": "Tổ"}
    photo = dict(UPDATES[0]["message"], caption="cks 2", photo=[{"file_id": "f", "file_unique_id": "u",
                                                                  "width": 1, "height": 1}])
    del photo["text"]
    others = [UPDATES[1], group, {"update_id": 14, "message": photo},
              {"update_id": 15, "edited_message": UPDATES[0]["message"]},
              {"update_id": 16, "message": {k: v for k, v in UPDATES[0]["message"].items() if k != "from"}}]
    for update in others:  # left to PTB's objects (to_inbound): buttons, groups, media, edits
        assert text_inbound(update) is None, update


async def test_get_updates_asks_the_updates_connection_and_leaves_the_json_as_it_is() -> None:
    """``get_updates`` leans on PTB's private ``Bot._post``: this fails first if it goes or changes."""
    from telegram.request import BaseRequest

    from bot.handlers.telegram_polling import ALLOWED_UPDATES, get_updates

    class Recording(BaseRequest):
        def __init__(self) -> None:
            self.calls: list[tuple[str, dict, object]] = []

        async def initialize(self) -> None: ...

        async def shutdown(self) -> None: ...

        @property
        def read_timeout(self) -> float:
            return 5.0

        async def do_request(self, url, method, request_data=None, read_timeout=None, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls.append((url.rsplit("/", 1)[-1], request_data.parameters if request_data else {}, read_timeout))
            return 200, json.dumps({"ok": True, "result": UPDATES}).encode()

    general, updates = Recording(), Recording()
    bot = Bot("123:abc", request=general, get_updates_request=updates)
    assert await get_updates(bot, 7, 100, 30, 35.0) == UPDATES
    assert general.calls == [] and updates.calls == [
        ("getUpdates", {"offset": 7, "limit": 100, "timeout": 30, "allowed_updates": list(ALLOWED_UPDATES)}, 35.0)]
