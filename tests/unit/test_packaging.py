"""WHEEL BUILD (slow, about 10 s): a normal, non-editable install carries the content.

Builds the wheel from a copy of the sources (``pip wheel --no-deps --no-build-isolation``,
so the working tree gets no build/ folder), checks it holds every content file and every
module, installs it into a temporary target (``pip install --no-deps --target``) and loads
the content from the installed copy in a fresh interpreter. Leave it out with
``-k "not wheel"``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.content import DEFAULT_CONTENT_DIR, load_content

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "bot", "storage", "content")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the folder it is installed in)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    subprocess.run([*PIP, "wheel", str(source), "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(work / "dist")], check=True, cwd=work, timeout=240)
    (wheel,) = (work / "dist").glob("tcns-*.whl")
    site = work / "site"
    subprocess.run([*PIP, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
                   check=True, cwd=work, timeout=240)
    return wheel, site


def test_the_wheel_holds_every_content_file_and_module(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    content = {f"tcns_content/{name}" for name in _files(ROOT / "content")}
    assert content - names == set(), "content files the wheel lacks"
    assert any(n.startswith("tcns_content/texts/") for n in content) and "tcns_content/vocabulary.yaml" in content
    code = {f"{package}/{name}" for package in ("bot", "storage") for name in _files(ROOT / package)}
    assert code - names == set(), "modules the wheel lacks: add their package to [tool.setuptools] packages"
    assert not any(n.startswith(("content/", "tests/")) for n in names)


def test_the_installed_wheel_loads_its_own_content(built: tuple[Path, Path]) -> None:
    _, site = built
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import bot.content as c\n"
        "content = c.load_content()\n"
        "print(json.dumps({'module': c.__file__, 'directory': str(content.directory),\n"
        "                  'texts': sorted(content.texts), 'roles': sorted(content.vocabulary.roles),\n"
        "                  'confirm': content.texts('report.confirm', items='x', day='1/1'),\n"
        "                  'services': list(content.catalogue.codes)}))\n"
    )
    run = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, cwd=site.parent,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert Path(found["module"]).is_relative_to(site)  # the installed copy, not this source tree
    assert Path(found["directory"]) == (site / "tcns_content").resolve()
    here = load_content()
    assert found["texts"] == sorted(here.texts) and found["roles"] == sorted(here.vocabulary.roles)
    assert found["confirm"] == here.texts("report.confirm", items="x", day="1/1")
    assert found["services"] == list(here.catalogue.codes)
    assert (ROOT / "content").resolve() == DEFAULT_CONTENT_DIR  # here: the source tree's own content
