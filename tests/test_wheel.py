"""The built wheel is self-contained: installed outside the checkout, `autocode` reads the
default codebook, the prompts and the review templates from the package, from any folder.

The wheel is built offline (no build isolation: the test extras bring setuptools) from a copy
of the checkout, so the build leaves nothing behind in the repository. It is installed into a
new virtualenv without pip's dependency resolution: that venv sees the project venv's
dependencies through a path entry. A full install would fetch or rebuild them (llama.cpp's
bindings among them) from a package index, which tests do not reach; what is under test is
the package's own contents, and those come only from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.codebook import load_codebook
from pipeline.coding.request import system_prompt

REPO = Path(__file__).resolve().parents[1]
EVERYWHERE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*_cache")
# Outputs and tools at the repository root only: pipeline/review is a package, not output.
AT_ROOT = {".venv", ".git", "build", "drafts", "review", ".autocode-cache", "bench"}


def not_copied(folder: str, names: list[str]) -> set[str]:
    ignored = set(EVERYWHERE(folder, names))
    return ignored | (AT_ROOT & set(names) if Path(folder) == REPO else set())


def _run(argv: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{argv}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("build")
    source = work / "autocode"
    shutil.copytree(REPO, source, symlinks=True, ignore=not_copied)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            work / "dist",
            source,
        ],
        cwd=work,
    )
    (found,) = (work / "dist").glob("autocode-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A venv outside the checkout with the wheel installed; its environment for commands."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    target = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            cwd=venv.parent,
        ).stdout.strip()
    )
    # the project venv's dependencies; its .pth files (the editable checkout) are not read
    (target / "project_dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-index",
            wheel,
        ],
        cwd=venv.parent,
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {"env": env, "python": python, "autocode": venv / "bin" / "autocode"}


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """A folder far from the checkout holding copies of the sample ads and gold files."""
    for name in ("raw", "gold"):
        shutil.copytree(REPO / name, tmp_path / name)
    return tmp_path


def test_the_wheel_holds_the_codebook_prompts_and_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "pipeline/codebook.yaml",
        "pipeline/prices.yaml",
        "pipeline/prompts/system.j2",
        "pipeline/prompts/ad.j2",
        "pipeline/review/templates/review.css",
        "pipeline/cli/__init__.py",
        "pipeline/stats/templates/stats.css",
    }
    assert expected <= names
    shipped = zipfile.ZipFile(wheel).read("pipeline/codebook.yaml")
    assert shipped == (REPO / "codebook.yaml").read_bytes()  # the root file, packed


def test_installed_package_is_the_wheel_not_the_checkout(installed, elsewhere):
    done = _run(
        [installed["python"], "-c", "import pipeline; print(pipeline.__file__)"],
        cwd=elsewhere,
        env=installed["env"],
    )
    where = Path(done.stdout.strip())
    assert not where.is_relative_to(REPO) and "site-packages" in where.parts


def test_parse_from_another_folder(installed, elsewhere):
    done = _run(
        [installed["autocode"], "parse", "gold/769_klm.md"], cwd=elsewhere, env=installed["env"]
    )
    record = json.loads(done.stdout)
    assert record["profile"] == "Core GenAI Engineer" and len(record["quotes"]) == 24


def test_batch_prepare_from_another_folder(installed, elsewhere):
    done = _run(
        [installed["autocode"], "batch", "prepare", "raw", "--out", "requests.jsonl"],
        cwd=elsewhere,
        env=installed["env"],
    )
    lines = (elsewhere / "requests.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(list((REPO / "raw").glob("*.txt"))), done.stderr
    messages = json.loads(lines[0])["body"]["messages"]
    # the packaged prompts filled from the packaged codebook: what the checkout renders
    assert messages[0]["content"] == system_prompt(load_codebook())


def test_eval_and_review_from_another_folder(installed, elsewhere):
    _run(
        [
            installed["autocode"],
            "eval",
            "--gold",
            "gold",
            "--pred",
            "gold",
            "--ads",
            "raw",
            "--json",
            "report.json",
        ],
        cwd=elsewhere,
        env=installed["env"],
    )
    report = json.loads((elsewhere / "report.json").read_text(encoding="utf-8"))
    assert report["profile"]["accuracy"] == 1.0 and report["quotes"]["strict"]["f1"] == 1.0
    _run(
        [installed["autocode"], "review", "gold", "--ads", "raw", "--html", "site"],
        cwd=elsewhere,
        env=installed["env"],
    )
    assert (elsewhere / "site" / "index.html").is_file()
    assert any((elsewhere / "site").rglob("*.css")) or "<style" in (
        elsewhere / "site" / "index.html"
    ).read_text(encoding="utf-8")
