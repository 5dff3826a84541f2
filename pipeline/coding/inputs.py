"""What a coding run reads before any LLM call: the codebook and the few-shot examples, and
the reader of its ads (read by the run's survey, one at a time). `autocode code` and
`autocode batch` read them here, so both refuse the same bad input before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.ads import AdReader, TableFields, read_ads
from pipeline.codebook import Codebook, load_codebook
from pipeline.coding.examples import ExamplePool, Ranking
from pipeline.goldmd.parse import read_coding_file
from pipeline.idmap import IdMap


@dataclass
class Inputs:
    book: Codebook
    ads: AdReader  # the ads, read by the run (Run.survey tells their problems)
    examples: ExamplePool  # gold codings to choose few-shot examples from, per ad
    max_ad_chars: int  # longer ads are cut for the prompt


def load_examples(gold_dir: Path, ads_dir: Path, codebook: Codebook) -> list:
    """The (Ad, Coding) pairs of gold codings that have a profile and an ad text."""
    pairs = []
    for path in sorted(Path(gold_dir).glob("*.md")):
        # shown to the model as it is: a line it could not place stops the run here
        coding = read_coding_file(path, codebook, strict=True)
        ad_file = Path(ads_dir) / f"{path.stem}.txt"
        if coding.profile and ad_file.exists():
            pairs.append((read_ads([ad_file]).ads[0], coding))
    return pairs


def read_inputs(
    ads: list[Path],
    codebook_path: Path | None,
    fields: TableFields,
    max_ad_chars: int,
    n_examples: int = 0,
    examples_gold: Path = Path("gold"),
    examples_ads: Path = Path("raw"),
    examples_by: Ranking = "similar",
    examples_max_chars: int | None = None,
) -> Inputs:
    """Codebook and examples, read now (a broken one stops the run before any ad is read);
    the ads are read by the run, which tells their problems (Run.survey)."""
    book = load_codebook(codebook_path)
    pairs = load_examples(examples_gold, examples_ads, book) if n_examples else []
    pool = ExamplePool(pairs, n_examples, examples_by, examples_max_chars)
    return Inputs(book, AdReader(ads, fields), pool, max_ad_chars)


def read_ad_texts(path: Path, fields: TableFields, say: Callable[[str], None]) -> IdMap:
    """Ad id -> text of the ads at `path` (folder, .jsonl or .csv), read one at a time and
    kept on disk (a corpus's texts need not fit in memory); problems told to `say`."""
    reader = AdReader([path], fields)
    texts = IdMap((ad.id, ad.text) for ad in reader.read())
    for problem in reader.problems.all():
        say(problem)
    return texts
