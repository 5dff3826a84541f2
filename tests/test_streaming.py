"""A corpus read one ad at a time (issue 22): the streaming reader gives what reading whole
files gave, `--limit N` stops reading at the N-th ad, a bounded number of ads is in flight,
and OUT's JSON-lines files are filtered and ordered a line at a time."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest
from fakes import ScriptedCreate, backend
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ads import (
    CHUNK,
    Ad,
    AdList,
    AdReader,
    decode,
    read_ads,
    table_encoding,
    table_lines,
)
from pipeline.coding.one_ad import RunOptions, code_one
from pipeline.coding.outfiles import codings_in_order, failures_in_order, samples_in_order
from pipeline.coding.run import Run, in_flight
from pipeline.idmap import IdMap
from pipeline.llm.cache import DiskCache
from pipeline.llm.client import LLM
from pipeline.store import copy_records, iter_records

REPO = Path(__file__).resolve().parents[1]


def row(ad_id: str, title: str = "Data Engineer") -> str:
    description = f"Build data pipelines for ad {ad_id} with Python and SQL every day of the week."
    return json.dumps({"id": ad_id, "title": title, "description": description}) + "\n"


# ------------------------------------------------------------------ reading


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "é", " ", "\n", "\r\n", "\r", "\x85", "\u2028", "\x0c"])))
def test_table_lines_are_the_lines_of_the_whole_text(tmp_path_factory, pieces):
    path = tmp_path_factory.mktemp("lines") / "t.jsonl"
    path.write_bytes("".join(pieces).encode("utf-8"))
    text, _ = decode(path.read_bytes(), str(path))
    assert list(table_lines(path, "utf-8-sig")) == text.splitlines()


@pytest.mark.parametrize(
    "data",
    [
        b"plain ascii\n",
        b"\xef\xbb\xbfwith a BOM \xc3\xa9\n",
        b"\xef\xbb\xbfBOM, then a Latin-1 byte: \xe9\n",
        b"x" * (CHUNK - 1) + "é".encode() + b" a character across a chunk's end\n",
        b"x" * (CHUNK + 7) + b"\xe9 past the first chunk\n",
        b"caf\xe9 and \x81, not Windows-1252\n",
        "Zürich".encode("cp1252") + b"\n",
    ],
    ids=["ascii", "bom", "bom-latin1", "split-char", "late-byte", "latin1", "cp1252"],
)
def test_a_tables_encoding_is_what_decoding_it_whole_finds(tmp_path, data):
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    text, warnings = decode(data, str(path))
    encoding, found = table_encoding(path)
    assert found == warnings
    assert "".join(table_lines(path, encoding)) == "".join(text.splitlines())


def test_reading_twice_gives_the_same_ads_and_problems_once(tmp_path):
    (tmp_path / "ads").mkdir()
    (tmp_path / "ads" / "a.txt").write_text("Engineer\nBuild things in Python.\n")
    (tmp_path / "ads" / "b.txt").write_text("")
    (tmp_path / "t.jsonl").write_text(row("c") + "{broken\n" + row("a") + row("d"))
    reader = AdReader([tmp_path / "ads", tmp_path / "t.jsonl"])
    first = [(ad.id, ad.source) for ad in reader.read()]
    table = tmp_path / "t.jsonl"
    assert first == [
        ("a", str(tmp_path / "ads" / "a.txt")),
        ("c", f"{table}:1"),
        ("d", f"{table}:4"),
    ]
    assert [(ad.id, ad.source) for ad in reader.again()] == first
    assert reader.problems.all() == read_ads([tmp_path / "ads", table]).problems
    assert reader.problems.duplicates == [
        f"{table}:3: duplicate ad id 'a' (first in {tmp_path / 'ads' / 'a.txt'}); skipped"
    ]


def test_a_reader_stopped_early_reads_no_further_and_again_stops_there(tmp_path):
    table = tmp_path / "t.jsonl"
    table.write_text(row("a") + row("b") + row("c") + "{not json: never reported\n")
    reader = AdReader([table])
    ads = reader.read()
    assert [next(ads).id, next(ads).id] == ["a", "b"]
    ads.close()
    assert list(reader.found) == ["a", "b"] and not reader.complete
    assert reader.problems.all() == []
    assert [ad.id for ad in reader.again()] == ["a", "b"]


def test_a_binary_table_is_a_problem_not_a_crash(tmp_path):
    (tmp_path / "bin.jsonl").write_bytes(b"\x00\x01\x02")
    batch = read_ads([tmp_path / "bin.jsonl"])
    assert batch.ads == [] and batch.problems == [
        f"{tmp_path / 'bin.jsonl'}: binary file, not text; file skipped"
    ]


# ------------------------------------------------------------------ the run


def make_llm(cache=None) -> tuple[LLM, ScriptedCreate]:
    fake = ScriptedCreate()
    return LLM(backend(), create=fake, cache=DiskCache(cache), backoff=0.001), fake


def test_limit_stops_reading_at_the_nth_ad_to_code(codebook, tmp_path):
    table = tmp_path / "t.jsonl"
    table.write_text(
        row("ad0") + row("ad1") + "{broken line\n" + "".join(row(f"ad{i}") for i in (2, 3, 4))
    )
    llm, _ = make_llm()
    options = RunOptions(out=tmp_path / "out", limit=2)
    first = Run(AdReader([table]), codebook, llm, options)
    assert first.survey() == []  # the broken line after the second ad is never read
    manifest = first.execute()
    assert manifest["counts"]["ads"] == 2 and manifest["counts"]["coded"] == 2
    again = Run(AdReader([table]), codebook, make_llm()[0], options)
    assert again.survey() == [
        f"{table}:3: not valid JSON (Expecting property name enclosed in double quotes); "
        "line skipped"
    ]
    manifest = again.execute()  # two done, two more to code: four ads read
    assert (manifest["counts"]["ads"], manifest["counts"]["already_done"]) == (4, 2)
    ids = [json.loads(line)["ad_id"] for line in (tmp_path / "out/codings.jsonl").open()]
    assert ids == ["ad0", "ad1", "ad2", "ad3"]


class CountingAds(AdList):
    """Ads whose second reading counts how many were handed out."""

    def __init__(self, ads):
        super().__init__(ads)
        self.handed = 0

    def again(self):
        for ad in super().again():
            self.handed += 1
            yield ad


def test_a_bounded_number_of_ads_is_in_flight(codebook, tmp_path):
    samples = read_ads([REPO / "raw"]).ads
    ads = [Ad(f"{ad.id}-{i}", ad.text, ad.source) for i in range(12) for ad in samples]
    source = CountingAds(ads)
    ahead, saved, lock = [], [0], threading.Lock()

    def coder(ad, book, llm, options):
        with lock:
            ahead.append(source.handed - saved[0])
        return code_one(ad, book, llm, options)

    def progress(outcome, stats):
        saved[0] += 1

    llm, _ = make_llm()
    run = Run(source, codebook, llm, RunOptions(out=tmp_path, concurrency=2), coder=coder)
    run.progress = progress
    manifest = run.execute()
    assert manifest["counts"]["coded"] == len(ads) == 60
    assert max(ahead) <= in_flight(2) + 1  # read, not yet saved: never the whole corpus


# ------------------------------------------------------------------ OUT's files


def write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def test_records_hold_any_line_separator_but_newline(tmp_path):
    path = tmp_path / "codings.jsonl"
    records = [{"ad_id": "a", "title": "x\u2028y\x85z\rw"}, {"ad_id": "b"}]
    write(path, records)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"ad_id": "torn", "quo')  # what a kill leaves
    assert [r for _, r in iter_records(path)] == records
    copy_records(path, [offset for offset, _ in iter_records(path)][::-1], path)
    assert [r for _, r in iter_records(path)] == records[::-1]


def test_outputs_are_put_in_input_order(tmp_path):
    found = {"a": 10, "b": 20, "c": 30}  # where each input ad was read
    codings = tmp_path / "codings.jsonl"
    write(
        codings,
        [
            {"ad_id": "x", "n": 1},  # another part's ad: after the input's, where it first came
            {"ad_id": "c", "n": 1},
            {"ad_id": "a", "n": 1},
            {"ad_id": "y", "n": 1},
            {"ad_id": "a", "n": 2},  # coded twice: the last record counts
            {"ad_id": "x", "n": 2},
        ],
    )
    order, missing = codings_in_order(codings, found)
    copy_records(codings, order, codings)
    assert [(r["ad_id"], r["n"]) for _, r in iter_records(codings)] == [
        ("a", 2),
        ("c", 1),
        ("x", 2),
        ("y", 1),
    ]
    assert missing == ["b"]

    samples = tmp_path / "samples.jsonl"
    write(
        samples,
        [
            {"ad_id": "y", "sample": 1},
            {"ad_id": "c", "sample": 1},
            {"ad_id": "a", "sample": 2},
            {"ad_id": "y", "sample": 0},
            {"ad_id": "a", "sample": 0},
            {"ad_id": "c", "sample": 0},
        ],
    )
    copy_records(samples, samples_in_order(samples, found), samples)
    assert [(r["ad_id"], r["sample"]) for _, r in iter_records(samples)] == [
        ("a", 0),
        ("a", 2),
        ("c", 0),
        ("c", 1),
        ("y", 0),
        ("y", 1),
    ]

    failures = tmp_path / "failures.jsonl"
    write(failures, [{"ad_id": "c"}, {"ad_id": "b"}])
    assert [r["ad_id"] for _, r in iter_records(failures)] == ["c", "b"]
    copy_records(failures, failures_in_order(failures, found), failures)
    assert [r["ad_id"] for _, r in iter_records(failures)] == ["b", "c"]


@pytest.mark.parametrize("seed", range(5))
def test_the_order_made_on_disk_is_the_order_of_sorting_in_memory(tmp_path, seed):
    """Random outputs (repeats, other parts' ads, sample numbers, ties) ordered as sorting
    the records in Python orders them."""
    rng = random.Random(seed)
    found = IdMap((f"in{i}", 10 * i + rng.randrange(3)) for i in range(300))
    ids = [
        f"in{rng.randrange(400)}" if rng.random() < 0.8 else f"out{rng.randrange(50)}"
        for _ in range(900)
    ]
    records = [{"ad_id": a, "sample": rng.randrange(4), "n": k} for k, a in enumerate(ids)]
    path = tmp_path / "out.jsonl"
    write(path, records)
    offsets = [offset for offset, _ in iter_records(path)]
    rows = [
        (found.get(r["ad_id"]), r["ad_id"], r["sample"], at)
        for r, at in zip(records, offsets, strict=True)
    ]
    mine = [r for r in rows if r[0] is not None]
    theirs = [r for r in rows if r[0] is None]

    last: dict = {}
    for row in sorted(mine, key=lambda r: (r[0], r[3])):
        last[row[0]] = row[3]  # sorted by place then offset: the last is the latest
    firsts: dict = {}
    for row in theirs:
        firsts[row[1]] = row[3]  # the dict keeps where the ad first came, with its latest
    order, missing = codings_in_order(path, found)
    assert list(order) == [*last.values(), *firsts.values()]
    assert missing == [a for a, place in found.items() if place not in last]
    samples = [r[3] for r in sorted(mine)] + [
        r[3] for r in sorted(theirs, key=lambda r: (r[2], r[3]))
    ]
    assert list(samples_in_order(path, found)) == samples
    failures = [r[3] for r in sorted(mine, key=lambda r: (r[0], r[3]))] + [r[3] for r in theirs]
    assert list(failures_in_order(path, found)) == failures
