"""Coding sets the REFI-QDA tests export: the project's gold, the study's dev gold, a draft
run against the simulated server, and a Dutch ad with accents and emoji written here."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from pipeline.ads import Ad, read_ads
from pipeline.codebook import Codebook
from pipeline.codings.load import load_codings
from pipeline.qdpx.export import write_qdpx
from pipeline.qdpx.importer import import_codings
from pipeline.qdpx.read import read_qdpx
from pipeline.qdpx.source import Summary
from pipeline.record import Coding
from pipeline.tables.sets import MemorySet, OpenSet

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO.parent / "shared" / "data" / "refi-qda" / "Project.xsd"
CREATED = "2025-03-01T12:00:00Z"

# Astral characters (🚀 🤖 ✨ are one code point, two UTF-16 units) before most quotes, so
# the two offset modes give different positions.
DUTCH_AD = (
    "Data Engineer (m/v/x) 🚀 bij Café Brûlé\n"
    "Wij zoeken een ervaren engineer voor ons team in Zeeë. 🎉\n"
    "Je bouwt en onderhoudt betrouwbare datapijplijnen in Python en Apache Airflow.\n"
    "Je werkt samen met het ML-team aan de ideeën voor één centraal featureplatform 🤖.\n"
    "Ervaring met Snowflake en dbt is een pré.\n"
    "Je vertaalt de wensen van de business naar technische oplossingen.\n"
)

DUTCH_GOLD = """\
# Manual Coding Analysis: Job Ad #900 (Café Brûlé)

This document contains the manual coding for the "Data Engineer (m/v/x) 🚀" position at Café Brûlé.

- **Assigned Profile:** `Core ML Engineer`
- **Reasoning:** Een data-rol naast het ML-team, zonder eigen modelbouw ✨.

---

## 1. Job Task Analysis

- **1.A.1. Software Development & Integration:**
  - "Je werkt samen met het ML-team aan de ideeën voor één centraal featureplatform 🤖"
- **1.B.3. Data Engineering & Management:**
  - "Je bouwt en onderhoudt betrouwbare datapijplijnen in Python en Apache Airflow." (pipelines)
  - "Je werkt samen met het ML-team aan de ideeën voor één centraal featureplatform 🤖"
- **1.C.1. Business Understanding & Strategy:**
  - "...je vertaalt de wensen van de business naar technische oplossingen..."

---

## 2. Technology & Tool Analysis

- **2.1. Programming Languages:**
  - `Python`
- **2.3. LLM / Generative Models:**
  - `GenAI models` (generic, not named in the ad)
- **2.6. MLOps & Data Pipelines:**
  - `Apache Airflow`
- **2.7. Traditional Data Tools:**
  - `Snowflake`
  - `dbt` (data build tool)
"""


@dataclass
class Case:
    """A coding set to export and the ads its codings refer to."""

    name: str
    codings: list[Coding]
    ads: dict[str, Ad]

    def sets(self, coder: str = "coder") -> list[OpenSet]:
        return [MemorySet(coder, self.codings, self.name)]


def case_from(name: str, codings_path: Path, ads_path: Path, book: Codebook) -> Case:
    ads = {ad.id: ad for ad in read_ads([ads_path]).ads}
    codings = [c for c in load_codings(codings_path, book, prefer_records=True) if c.ad_id in ads]
    return Case(name, codings, ads)


def dutch_case(tmp: Path, book: Codebook) -> Case:
    (tmp / "ads").mkdir(parents=True, exist_ok=True)
    (tmp / "gold").mkdir(exist_ok=True)
    (tmp / "ads" / "900_cafe_brule.txt").write_text(DUTCH_AD, encoding="utf-8")
    (tmp / "gold" / "900_cafe_brule.md").write_text(DUTCH_GOLD, encoding="utf-8")
    return case_from("dutch", tmp / "gold", tmp / "ads", book)


@dataclass
class Exported:
    """An exported project: project.qde as written (parsed), and the export's summary."""

    project: ET.Element
    summary: Summary


def export_sets(
    sets: list[OpenSet], ads: dict[str, Ad], book: Codebook, path: Path, offsets="codepoints"
) -> Exported:
    """Write the project of `sets` to `path` (at CREATED) and read its project.qde back."""
    summary = write_qdpx(path, sets, ads.values(), book, offsets, CREATED)
    with zipfile.ZipFile(path) as archive:
        return Exported(ET.fromstring(archive.read("project.qde")), summary)


def export_case(case: Case, book: Codebook, path: Path, offsets="codepoints", sets=None):
    """Export a case to `path`; the project written (with the summary) is returned."""
    return export_sets(sets or case.sets(), case.ads, book, path, offsets)


def round_trip(case: Case, book: Codebook, path: Path, offsets: str) -> list[Coding]:
    export_case(case, book, path, offsets)
    return import_codings(read_qdpx(path), book).codings


def defined_figures(report: dict, prefix: str = "") -> dict[str, float]:
    """Every agreement figure of an eval report that is defined (not None), by its path."""
    names = {"precision", "recall", "f1", "accuracy", "kappa", "agreement", "macro_kappa", "alpha"}
    found: dict[str, float] = {}
    for key, value in report.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            found |= defined_figures(value, path)
        elif key in names and value is not None:
            found[path] = value
    return found
