"""`autocode merge`: the consensus of existing coding sets (OUT folders, codings.jsonl files,
folders of .md codings), e.g. three models' drafts, or two human coders and the model.

Each ad is merged from the sets that coded it (`n_codings` counts those), by
`pipeline.codings.consensus`. OUT gets a draft per ad, codings.jsonl and a manifest naming the
inputs; `autocode review OUT` and `autocode eval --pred OUT/codings.jsonl` read it as they
read the output of `autocode code`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipeline import __version__
from pipeline.codebook import Codebook
from pipeline.codings.consensus import consensus
from pipeline.codings.load import CodingSet, coding_set_name, load_codings
from pipeline.errors import InputError
from pipeline.goldmd.render import consensus_notes, render
from pipeline.grounding import ground
from pipeline.record import Coding, MergeProvenance
from pipeline.store import atomic_write_text, write_records


def distinct_names(paths: Sequence[Path]) -> list[str]:
    """A name per coding set (its folder's name), the path where two would clash, and a
    number where even those are the same."""
    names = [coding_set_name(p) for p in paths]
    names = [n if names.count(n) == 1 else str(p) for n, p in zip(names, paths, strict=True)]
    return [
        n if names.count(n) == 1 else f"{n}#{names[:i].count(n) + 1}" for i, n in enumerate(names)
    ]


def load_sets(paths: Sequence[Path], book: Codebook) -> list[CodingSet]:
    """Every coding set, records preferred (they carry spans); an id twice is an error."""
    sets = []
    for name, path in zip(distinct_names(paths), paths, strict=True):
        codings = load_codings(path, book, prefer_records=True)
        ids = [c.ad_id for c in codings]
        if len(set(ids)) != len(ids):
            twice = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"{path}: ad {twice!r} is coded more than once")
        sets.append(CodingSet(name, codings, str(path)))
    return sets


def merge_sets(
    sets: Sequence[CodingSet],
    book: Codebook,
    min_support: int | None = None,
    ad_texts: Mapping[str, str] | None = None,
) -> list[Coding]:
    """The consensus of every ad any set coded, in id order; grounded where its text is known."""
    texts = ad_texts or {}
    by_ad: dict[str, list[tuple[str, Coding]]] = {}
    for cset in sets:
        for coding in cset.codings:
            by_ad.setdefault(coding.ad_id, []).append((cset.name, coding))
    merged = []
    for ad_id in sorted(by_ad):
        names = [name for name, _ in by_ad[ad_id]]
        coding = consensus([c for _, c in by_ad[ad_id]], book, min_support, texts.get(ad_id))
        coding.provenance = MergeProvenance(merged_from=names, min_support=min_support)
        merged.append(ground(coding, texts[ad_id]) if ad_id in texts else coding)
    return merged


def manifest(
    sets: Sequence[CodingSet],
    paths: Sequence[Path],
    merged: Sequence[Coding],
    book: Codebook,
    min_support: int | None,
) -> dict:
    entries = [len(c.quotes) + len(c.tools) for c in merged]
    return {
        "tool": "autocode",
        "command": "merge",
        "version": __version__,
        "inputs": [
            {"name": cset.name, "path": str(path), "ads": len(cset.codings)}
            for cset, path in zip(sets, paths, strict=True)
        ],
        "min_support": min_support if min_support is not None else "strict majority",
        "codebook": {"name": book.name, "version": book.version, "sha256": book.sha256},
        "counts": {
            "ads": len(merged),
            "entries_kept": sum(entries),
            "ads_coded_by_every_set": sum(1 for c in merged if c.n_codings == len(sets)),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_merge(
    out: Path, merged: Sequence[Coding], book: Codebook, label: str, info: dict
) -> None:
    """Drafts, codings.jsonl and manifest.json in `out`, each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    for coding in merged:
        draft = render(coding, book, draft_model=label, review_notes=consensus_notes(coding))
        atomic_write_text(out / f"{coding.ad_id}.md", draft)
    write_records(out / "codings.jsonl", [c.model_dump(mode="json") for c in merged])
    atomic_write_text(out / "manifest.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
