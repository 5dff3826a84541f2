"""The files of a validation sample: `sample.csv` (ad_id, inclusion_probability, stratum),
`sample.json` (design, seed, N, n, the coding set's provenance and hash) and a blank coding
sheet per sampled ad; and reading them back for the estimates."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.goldmd.render import render
from pipeline.record import Coding
from pipeline.stats.sample import Draw
from pipeline.store import atomic_write_text

SHEETS = "sheets"


@dataclass
class Sample:
    """A validation sample as drawn: every ad's inclusion probability and stratum, and
    which were drawn."""

    path: Path
    design: str
    seed: int
    codings_sha256: str
    ad_ids: list[str]  # drawn
    probabilities: dict[str, float]  # every ad of the corpus
    strata: dict[str, str]

    @property
    def equal_probabilities(self) -> bool:
        return len(set(self.probabilities.values())) <= 1


def sample_csv(draw: Draw) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["ad_id", "inclusion_probability", "stratum"])
    for ad_id in draw.ad_ids:
        writer.writerow([ad_id, repr(draw.probabilities[ad_id]), draw.strata[ad_id]])
    return out.getvalue()


def blank_sheet(coding: Coding, book: Codebook) -> str:
    """The gold Markdown skeleton of an ad, its title and organisation only: what a coder
    fills in without seeing the model's coding."""
    bare = Coding(ad_id=coding.ad_id, title=coding.title, organisation=coding.organisation)
    return render(bare, book, blank=True)


def write_sample(
    out: Path, draw: Draw, meta: dict, codings: dict[str, Coding], book: Codebook
) -> None:
    """sample.csv, sample.json (with every ad's probability, so estimates can weight the rest
    of the corpus) and sheets/<id>.md, each written atomically."""
    out = Path(out)
    for ad_id in draw.ad_ids:
        atomic_write_text(out / SHEETS / f"{ad_id}.md", blank_sheet(codings[ad_id], book))
    atomic_write_text(out / "sample.csv", sample_csv(draw))
    record = {
        **meta,
        "n": len(draw.ad_ids),
        "sampled": draw.ad_ids,
        "inclusion_probabilities": draw.probabilities,
        "strata": draw.strata,
    }
    atomic_write_text(out / "sample.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def read_sample(path: Path) -> Sample:
    """A sample.json written by `autocode sample`; any problem names the file and field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the sample: {exc}") from None
    fields = ("design", "seed", "codings_sha256", "sampled", "inclusion_probabilities")
    missing = [f for f in fields if not isinstance(data, dict) or f not in data]
    if missing:
        raise InputError(f"{path}: {missing[0]}: missing (not a sample.json of autocode sample)")
    probabilities = {str(k): float(v) for k, v in data["inclusion_probabilities"].items()}
    bad = [a for a in data["sampled"] if not 0 < probabilities.get(a, 0) <= 1]
    if bad:
        raise InputError(f"{path}: inclusion_probabilities: {bad[0]!r} has none in (0, 1]")
    return Sample(
        path,
        str(data["design"]),
        int(data["seed"]),
        str(data["codings_sha256"]),
        [str(a) for a in data["sampled"]],
        probabilities,
        {str(k): str(v) for k, v in (data.get("strata") or {}).items()},
    )
