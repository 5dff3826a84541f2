"""QualCoder's own REFI-QDA importer and exporter on autocode's exports (bench/qualcoder.py).

QualCoder is not a dependency of autocode, so these run only where QUALCODER_SRC names a
QualCoder source tree and QUALCODER_PYTHON a Python with its requirements (PyQt6 and the rest
of its requirements.txt); elsewhere they are skipped. The check runs as a subprocess, by path:

    QUALCODER_SRC=/tmp/qualcoder QUALCODER_PYTHON=/tmp/qcvenv/bin/python \\
        .venv/bin/pytest -q tests/test_qualcoder.py
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECK = REPO / "bench" / "qualcoder.py"
SOURCE = os.environ.get("QUALCODER_SRC", "")
PYTHON = os.environ.get("QUALCODER_PYTHON", "")

pytestmark = [
    pytest.mark.qualcoder,
    pytest.mark.skipif(
        not (SOURCE and PYTHON),
        reason="QualCoder not set up: QUALCODER_SRC (its source tree) and QUALCODER_PYTHON",
    ),
]


def export(tmp_path: Path, *args: str) -> Path:
    """`autocode export ... --ads raw/` of the sample ads into tmp_path/export.qdpx."""
    qdpx = tmp_path / "export.qdpx"
    argv = [sys.executable, "-m", "pipeline.cli", "export", *args, "--ads", "raw", "--qdpx"]
    run = subprocess.run([*argv, str(qdpx)], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return qdpx


def qualcoder_check(qdpx: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """bench/qualcoder.py on the export: import, compare, re-export, `autocode import` both."""
    autocode = shlex.join([sys.executable, "-m", "pipeline.cli"])
    argv = [PYTHON, str(CHECK), "--qualcoder", SOURCE, str(qdpx)]
    argv += ["--reexport", str(tmp_path / "qualcoder.qdpx"), "--autocode", autocode]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_qualcoder_reads_the_sample_gold_as_exported(tmp_path):
    run = qualcoder_check(export(tmp_path, "gold"), tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "codings: 74 in the export, 74 in QualCoder" in run.stdout


def test_qualcoder_keeps_two_coders_of_the_same_passages_apart(tmp_path):
    shutil.copytree(REPO / "gold", tmp_path / "second")
    qdpx = export(tmp_path, "--coder", "anna=gold", "--coder", f"ben={tmp_path / 'second'}")
    run = qualcoder_check(qdpx, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "owners: codings: anna 74, ben 74" in run.stdout


def test_a_quote_listed_twice_reaches_qualcoder_once_without_its_warning(tmp_path):
    shutil.copytree(REPO / "gold", tmp_path / "gold")
    path = tmp_path / "gold" / "101_lumenpath_genai.md"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith('- "'))
    path.write_text("".join([*lines[: first + 1], *lines[first:]]), encoding="utf-8")
    run = qualcoder_check(export(tmp_path, str(tmp_path / "gold")), tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "codings: 74 in the export, 74 in QualCoder" in run.stdout
    assert "Duplicated" not in run.stdout
