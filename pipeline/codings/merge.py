"""`autocode merge`: the consensus of existing coding sets (OUT folders, codings.jsonl files,
folders of .md codings), e.g. three models' drafts, or two human coders and the model.

Each ad is merged from the sets that coded it (`n_codings` counts those), by
`pipeline.codings.consensus`. OUT gets a draft per ad, codings.jsonl and a manifest naming the
inputs; `autocode review OUT` and `autocode eval --pred OUT/codings.jsonl` read it as they
read the output of `autocode code`. The sets are indexed on disk (`index.RecordIndex`) and
merged one ad at a time, so memory does not grow with the number of ads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipeline import __version__
from pipeline.codebook import Codebook
from pipeline.codings.consensus import consensus
from pipeline.codings.index import RecordIndex
from pipeline.codings.load import CodingSet, coding_set_name, load_codings, records_file
from pipeline.errors import InputError
from pipeline.goldmd.render import consensus_notes, render
from pipeline.grounding import ground
from pipeline.record import Coding, MergeProvenance
from pipeline.store import atomic_write_text, atomic_writer


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


def index_sets(paths: Sequence[Path], book: Codebook) -> RecordIndex:
    """Every coding set indexed on disk, records preferred (they carry spans), each checked
    as `load_sets` checks it (an id twice is an error); Markdown sets are held."""
    index = RecordIndex()
    try:
        for path in paths:
            records = records_file(path, prefer_records=True)
            if records is not None:
                index.add_records(path, records, book)
            else:
                index.add_held(path, load_codings(path, book, prefer_records=True))
    except BaseException:
        index.close()
        raise
    return index


def _merged_ad(
    ad_id: str,
    codings: Sequence[tuple[str, Coding]],
    book: Codebook,
    min_support: int | None,
    texts: Mapping[str, str],
) -> Coding:
    """One ad's consensus of the (set name, coding) of each set that coded it."""
    coding = consensus([c for _, c in codings], book, min_support, texts.get(ad_id))
    coding.provenance = MergeProvenance(
        merged_from=[name for name, _ in codings], min_support=min_support
    )
    return ground(coding, texts[ad_id]) if ad_id in texts else coding


def merge_sets(
    sets: Sequence[CodingSet],
    book: Codebook,
    min_support: int | None = None,
    ad_texts: Mapping[str, str] | None = None,
) -> list[Coding]:
    """The consensus of every ad any set coded, in id order; grounded where its text is known."""
    by_ad: dict[str, list[tuple[str, Coding]]] = {}
    for cset in sets:
        for coding in cset.codings:
            by_ad.setdefault(coding.ad_id, []).append((cset.name, coding))
    texts = ad_texts or {}
    return [_merged_ad(a, by_ad[a], book, min_support, texts) for a in sorted(by_ad)]


def merge_index(
    index: RecordIndex,
    names: Sequence[str],
    book: Codebook,
    min_support: int | None = None,
    ad_texts: Mapping[str, str] | None = None,
) -> Iterator[Coding]:
    """`merge_sets` of indexed sets (`names`: each set's name), one ad at a time."""
    texts = ad_texts or {}
    for ad_id, codings in index.by_ad(book):
        named = [(names[src], coding) for src, coding in codings]
        yield _merged_ad(ad_id, named, book, min_support, texts)


def manifest(
    inputs: Sequence[tuple[str, Path, int]],
    counts: dict,
    book: Codebook,
    min_support: int | None,
) -> dict:
    """The run's record: each input (name, path, ads), the counts `write_merge` returns."""
    return {
        "tool": "autocode",
        "command": "merge",
        "version": __version__,
        "inputs": [{"name": name, "path": str(path), "ads": ads} for name, path, ads in inputs],
        "min_support": min_support if min_support is not None else "strict majority",
        "codebook": {"name": book.name, "version": book.version, "sha256": book.sha256},
        "counts": counts,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_merge(
    out: Path, merged: Iterable[Coding], book: Codebook, label: str, n_sets: int
) -> dict:
    """A draft per ad and codings.jsonl in `out` (each written atomically), one ad at a
    time; the manifest's counts."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {"ads": 0, "entries_kept": 0, "ads_coded_by_every_set": 0}
    with atomic_writer(out / "codings.jsonl", "w") as records:
        for coding in merged:
            draft = render(coding, book, draft_model=label, review_notes=consensus_notes(coding))
            atomic_write_text(out / f"{coding.ad_id}.md", draft)
            records.write(json.dumps(coding.model_dump(mode="json"), ensure_ascii=False) + "\n")
            counts["ads"] += 1
            counts["entries_kept"] += len(coding.quotes) + len(coding.tools)
            counts["ads_coded_by_every_set"] += coding.n_codings == n_sets
    return counts


def write_manifest(out: Path, info: dict) -> None:
    atomic_write_text(out / "manifest.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
