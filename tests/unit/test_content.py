"""Content files: loaded, validated, and every text the code asks for exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content import DEFAULT_CONTENT_DIR, Content, ContentError, load_content

CODE = Path(__file__).resolve().parents[2] / "bot"


def test_catalogue_has_the_six_services(content: Content):
    assert content.catalogue.codes == (
        "vneid", "chu_ky_so", "thanh_toan", "dich_vu_cong", "so_suc_khoe", "ky_nang_so"
    )


def test_every_text_key_used_in_code_exists(content: Content):
    pattern = re.compile(r"""(?:\bt|\.texts|say)\(\s*f?["']([a-z_]+\.[a-z_.{}]+)["']""")
    used = set()
    for path in CODE.rglob("*.py"):
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert len(used) > 30
    for key in used:
        if "{" in key:  # an f-string family such as help.{role}: every member must exist
            prefix = key.split("{")[0]
            assert any(k.startswith(prefix) for k in content.texts), key
        else:
            assert key in content.texts, key
    for role in ("member", "leader", "staff", "admin"):
        assert f"help.{role}" in content.texts and f"roles.{role}" in content.texts


def _broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    path = target / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("name", "old", "new", "field"),
    [
        ("limits.yaml", "max_count_per_report: 500", "max_count_per_report: -1", "max_count_per_report"),
        ("services.yaml", "short: VNeID", "short: ''", "services.0.short"),
        ("demo.yaml", "households: 412", "households: many", "villages.0.households"),
        ("texts/join.yaml", "ask_code: ", "ask_code:\n    nested: ", "join.ask_code"),
    ],
)
def test_a_broken_file_is_named_with_its_field(tmp_path: Path, name, old, new, field):
    directory = _broken_copy(tmp_path, name, old, new)
    with pytest.raises(ContentError) as error:
        load_content(directory)
    assert name in str(error.value) and field in str(error.value)


def test_broken_content_stops_start_up_with_the_message(tmp_path: Path):
    directory = _broken_copy(tmp_path, "services.yaml", "code: vneid", "code: VNeID!")
    env = {"TCNS_CONTENT_DIR": str(directory), "TCNS_DB": str(tmp_path / "t.db"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--no-chat"], capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    assert run.returncode == 3
    assert "services.yaml" in run.stderr and "services.0.code" in run.stderr
