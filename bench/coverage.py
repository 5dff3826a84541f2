"""Benchmark part `coverage`: how often the corpus intervals hold the prevalence, by
simulation, under both sampling designs (docs/statistics.md, "Coverage of the intervals").

    python -m bench.run --only coverage        # into bench/results.json
    python -m bench.coverage [--corpora N] [--seed S]   # the table alone

The simulation is `simulate` of tests/test_coverage.py (the tests may not import the
benchmarks, so it lives there and is imported from here): simulated corpora of 1,272 ads, a
model that over-codes (recall 0.75, precision 0.6), a human sample of 60 ads, and per
method the share of corpora whose 95% interval holds p, and the interval's mean width. No
data is needed.
"""

from __future__ import annotations

import argparse
import sys

from tests.test_coverage import DESIGNS, METHODS, simulate

CORPORA = 20_000  # per design: a coverage of 0.95 is then known to +-0.003 (95%)
HEAD = ["design", "method", "coverage of p", "misses below p", "coverage of corpus mean", "width"]


def coverage(n_corpora: int = CORPORA, seed: int = 0) -> dict:
    """`simulate`'s result per design, with the same seed."""
    return {d: simulate(n_corpora=n_corpora, seed=seed, design=d) for d in DESIGNS}


def rows(res: dict) -> list[list[str]]:
    return [
        [
            design,
            method,
            f"{m['coverage']:.3f}",
            f"{m['below']:.3f}",
            f"{m['coverage_corpus_mean']:.3f}",
            f"{m['mean_width']:.3f}",
        ]
        for design, r in res.items()
        for method, m in ((k, r["methods"][k]) for k in METHODS)
    ]


def markdown(res: dict) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows(res)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.coverage", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpora", type=int, default=CORPORA, help="per design")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    res = coverage(args.corpora, args.seed)
    print(markdown(res))
    for design, r in res.items():
        print(
            f"{design}: {r['seconds']} s; {100 * r['few_positives']:.1f}% of samples with "
            "fewer than 5 human positives",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
