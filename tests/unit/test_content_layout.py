"""The content directory's layout: texts/ (one file per feature, and shared.yaml) merged by
key, a deployment's own directory checked against the shipped one, and vocabulary.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content import DEFAULT_CONTENT_DIR, ContentError, load_content
from bot.flows.report import count_issue


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_deployment_copy_loads_like_the_shipped_content(copy: Path) -> None:
    content = load_content(copy)
    assert content.texts("report.confirm", items="• VNeID: 5 hộ", day="22/11/2026") == \
        load_content().texts("report.confirm", items="• VNeID: 5 hộ", day="22/11/2026")
    assert content.texts.file_of("report.confirm") == copy / "texts" / "report.yaml"


def test_a_key_defined_in_two_files_is_refused_with_both_files(copy: Path) -> None:
    (copy / "texts" / "extra.yaml").write_text('report:\n  confirm: "Ghi nhận?"\n', encoding="utf-8")
    with pytest.raises(ContentError) as error:
        load_content(copy)
    message = str(error.value)
    assert "'report.confirm'" in message and "extra.yaml" in message and "report.yaml" in message


def test_a_text_that_another_file_makes_a_section_is_refused(copy: Path) -> None:
    (copy / "texts" / "extra.yaml").write_text('report:\n  confirm:\n    short: "Ghi nhận?"\n', encoding="utf-8")
    with pytest.raises(ContentError, match=r"'report\.confirm\.short' makes 'report\.confirm' a section"):
        load_content(copy)


def test_a_missing_text_is_named_with_the_file_it_belongs_in(copy: Path) -> None:
    _edit(copy / "texts" / "undo.yaml", "  kept: ", "  kept_old: ")
    with pytest.raises(ContentError) as error:
        load_content(copy)
    assert str(copy / "texts" / "undo.yaml") in str(error.value) and "'undo.kept'" in str(error.value)


def test_a_placeholder_the_code_does_not_fill_is_refused(copy: Path) -> None:
    week = "({start}–{end}): {total}\"\n  month"
    _edit(copy / "texts" / "mine.yaml", week, week.replace("{total}", "{total}, {households} hộ dân"))
    with pytest.raises(ContentError, match=r"mine\.yaml: field 'mine\.week': \{households\} is not filled in"):
        load_content(copy)


def test_a_broken_template_is_refused_with_its_field(copy: Path) -> None:
    _edit(copy / "texts" / "mine.yaml", "({start}–{end}): {total}\"\n  month", "({start}–{end}): {total\"\n  month")
    with pytest.raises(ContentError, match=r"mine\.yaml: field 'mine\.week'"):
        load_content(copy)


def test_a_directory_in_the_old_layout_is_told_where_texts_went(copy: Path) -> None:
    shutil.rmtree(copy / "texts")
    (copy / "texts.yaml").write_text("buttons: {}\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"texts: no texts files \(texts\.yaml and texts_\*\.yaml are now texts/"):
        load_content(copy)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("  leader: [totruong,", "  leader: [tv, totruong,", "'roles'"),  # "tv" is a member already
        ("whole_commune: [all,", "whole_commune: [all, '!!',", "'whole_commune.1'"),
        ("of_adults: [người, người lớn, adults, nl]", "of_adults: []", "'of_adults'"),
        ("count_units:", "units:", "'count_units'"),
        ("  sessions: [lượt, buổi, lần]", "", "'count_units.sessions'"),
    ],
)
def test_a_broken_vocabulary_is_named_with_its_field(copy: Path, old: str, new: str, field: str) -> None:
    _edit(copy / "vocabulary.yaml", old, new)
    with pytest.raises(ContentError) as error:
        load_content(copy)
    assert "vocabulary.yaml" in str(error.value) and field in str(error.value)


def test_the_vocabulary_is_what_the_commands_read(copy: Path) -> None:
    shipped = load_content().vocabulary
    assert shipped.role("TOTRUONG") == shipped.role("tổ trưởng") == "leader"
    assert count_issue("5 nguoi", 500, shipped.count_units_of("people")) == (5, None)
    assert count_issue("5 người", 500, shipped.count_units_of("households")) == (None, "not_a_number")
    assert count_issue("5 hdgd", 500, shipped.count_units_of("households")) == (None, "not_a_number")
    _edit(copy / "vocabulary.yaml", "  households: [hộ,", "  households: [hdgd, hộ,")
    _edit(copy / "vocabulary.yaml", "  leader: [totruong,", "  leader: [tt, totruong,")
    own = load_content(copy).vocabulary
    assert count_issue("5 hdgd", 500, own.count_units_of("households")) == (5, None)
    assert count_issue("7 hộ", 500, own.count_units_of("households")) == (7, None)
    assert own.role("TT") == "leader"
