"""The guides in content/guides/: valid, short enough for a phone, each ending with help."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content import DEFAULT_CONTENT_DIR, ContentError, load_content
from bot.domain.guides import MAX_GUIDE_CHARS, MAX_STEP_CHARS

GUIDES = load_content().guides


def test_every_topic_the_field_needs_has_a_guide():
    assert [g.topic for g in GUIDES.all] == ["vneid", "chu_ky_so", "thanh_toan", "dich_vu_cong", "so_suc_khoe",
                                             "lua_dao"]


@pytest.mark.parametrize("guide", GUIDES.all, ids=lambda g: g.topic)
def test_a_guide_fits_a_phone_and_says_where_to_get_help(guide):
    assert len(guide.plain()) <= MAX_GUIDE_CHARS
    assert all(len(step) <= MAX_STEP_CHARS for step in guide.steps)
    assert guide.help.startswith(("Cần giúp", "Báo tin"))
    # Official apps and portals only: no link other than a .gov.vn one.
    text = guide.plain()
    assert "http" not in text and all(word.rstrip(".,;").endswith(".gov.vn") for word in text.split() if ".vn" in word)


@pytest.mark.parametrize(("typed", "topic"), [
    ("VNeID", "vneid"), ("dinh danh", "vneid"), ("chữ kí số", "chu_ky_so"), ("smartca", "chu_ky_so"),
    ("QR", "thanh_toan"), ("dvc", "dich_vu_cong"), ("so suc khoe", "so_suc_khoe"), ("lừa đảo", "lua_dao"),
    ("3", "thanh_toan"), ("giả danh công an", "lua_dao"), ("abc", None), ("9", None),
])
def test_a_guide_is_found_by_what_people_type(typed, topic):
    found = GUIDES.find(typed)
    assert (found.topic if found else None) == topic


def test_a_guide_too_long_for_a_phone_is_refused_naming_the_file(tmp_path: Path):
    content = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content)
    path = content / "guides" / "vneid.yaml"
    path.write_text(path.read_text(encoding="utf-8") + 'steps:\n' + ''.join(f'  - "{"x" * 200}"\n' for _ in range(7)),
                    encoding="utf-8")
    with pytest.raises(ContentError) as error:
        load_content(content)
    assert "vneid.yaml" in str(error.value)
