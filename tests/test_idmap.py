"""IdMap: ad ids and a value each on disk, as a dict would hold them."""

from __future__ import annotations

import random
import subprocess
import sys
import threading

import pytest

from pipeline.idmap import IdMap


def test_it_answers_as_a_dict_in_insertion_order():
    rng = random.Random(4)
    keys = [f"ad-{rng.randrange(500)}" for _ in range(2000)]
    held: dict[str, object] = {}
    with IdMap() as ids:
        for n, key in enumerate(keys):
            value = n if n % 3 else f"file-{n}.txt:{n}"  # ints and texts alike
            assert ids.earlier(key, value) == (held[key] if key in held else None)
            held.setdefault(key, value)
        assert len(ids) == len(held)
        assert list(ids) == list(held)
        assert list(ids.items()) == list(held.items())
        assert list(ids.values()) == list(held.values())
        assert all(ids[k] == v and ids.get(k) == v and k in ids for k, v in held.items())
        assert "ad-500" not in ids and ids.get("ad-500", -1) == -1 and 7 not in ids
        with pytest.raises(KeyError):
            ids["ad-500"]


def test_setting_keeps_a_known_key_in_its_place_and_adds_a_new_one_last():
    ids = IdMap([("b", 1), ("a", 2)])
    ids["b"] = 5
    ids["c"] = 0
    assert list(ids.items()) == [("b", 5), ("a", 2), ("c", 0)]
    assert ids.setdefault("a", 9) == 2 and ids.setdefault("d", 9) == 9
    assert ids.add("e") and not ids.add("e") and len(ids) == 5
    assert ids.max_value() == 9


def test_sorted_ids_are_in_pythons_order_without_the_ones_left_out():
    names = ["b", "a", "Z", "é", "ä", "a1", "😀", "ﬁ", "\u2028x", "10", "9"]
    ids = IdMap((name, None) for name in names)
    view = ids.sorted_ids(without=["a", "nope"])
    want = sorted(set(names) - {"a"})
    assert list(view) == want and view == want and len(view) == len(want)
    assert [view[i] for i in range(-len(want), len(want))] == want + want
    assert view[2:5] == want[2:5]
    with pytest.raises(IndexError):
        view[len(want)]
    assert IdMap().sorted_ids() == [] and not IdMap().sorted_ids()


def test_threads_may_share_it():
    """The coders of a run look their results up at once while the map is read."""
    ids = IdMap((f"ad{n}", n) for n in range(2000))
    wrong: list[str] = []

    def look(start: int) -> None:
        for n in range(start, 2000, 7):
            if ids.get(f"ad{n}") != n or f"ad{n}" not in ids:
                wrong.append(f"ad{n}")
        ids.add(f"extra{start}")

    threads = [threading.Thread(target=look, args=(k,)) for k in range(7)]
    for thread in threads:
        thread.start()
    listed = list(ids.values())  # iterating while the threads look up and add
    for thread in threads:
        thread.join()
    assert wrong == [] and listed[:2000] == list(range(2000)) and len(ids) == 2007


# VmHWM: this process's peak (getrusage's would start from the parent's, across exec)
PEAK = """
import re, sys
from pathlib import Path
from pipeline.idmap import IdMap
def peak():
    return int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text())[1])
ids = IdMap() if sys.argv[1] == "disk" else {}
start = peak()
for n in range(200_000):
    ids.setdefault(f"corpus-ad-{n:09d}", n)
assert len(ids) == 200_000 and ids["corpus-ad-000054321"] == 54321
print(peak() - start)
"""


def _growth_kb(kind: str) -> int:
    run = subprocess.run([sys.executable, "-c", PEAK, kind], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return int(run.stdout)


def test_many_ids_grow_memory_by_sqlites_cache_not_by_the_ids():
    """200,000 ids in a dict: ~30 MB more; on disk, about SQLite's cache (4 MB)."""
    held, on_disk = _growth_kb("dict"), _growth_kb("disk")
    assert held > 20_000  # the measure sees what holding them costs
    assert on_disk < 10_000
