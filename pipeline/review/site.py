"""The `review` stage: read a run's OUT folder, the ads and the gold codings; write a static site.

The site is plain files (index.html and one ad-<id>.html per ad) with inline CSS and
JavaScript: no server, no CDN, it opens from disk and works offline. Its Content-Security-
Policy allows only the page's own script (by hash) and no network at all, and jinja2
autoescaping is on, so an ad's own HTML or script is shown as text and never runs.

Drafts are read from OUT/codings.jsonl when it exists (its records carry the quote spans),
else from OUT/*.md, grounded against the ads. `load_review` and `write_site` are the only
functions here that touch the disk; the page data comes from `pipeline.review.pages`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup
from pydantic import ValidationError

from pipeline.ads import Ad, AdReader, TableFields
from pipeline.codebook import Codebook
from pipeline.codings.load import read_markdown_text
from pipeline.errors import InputError
from pipeline.goldmd.parse import dropped_in_notes, parse, read_coding_file
from pipeline.grounding import fold_quote, ground
from pipeline.record import CodedAd, Coding
from pipeline.resources import packaged, page_templates
from pipeline.review.index import charts, index_row, page_names, run_summary
from pipeline.review.pages import Draft, ad_page
from pipeline.review.selection import Selection, Tally, chosen_records, survey, tally_of
from pipeline.store import atomic_write_text, read_records

TEMPLATES = packaged("review/templates")


@dataclass
class ReviewInput:
    out: Path
    drafts: list[Draft]
    failures: list[dict] = field(default_factory=list)
    manifest: dict | None = None
    ads: dict[str, Ad] = field(default_factory=dict)
    golds: dict[str, Coding] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    ads_path: Path | None = None
    gold_path: Path | None = None
    tally: Tally = field(default_factory=Tally)  # every draft of OUT, for the index's charts


# ----------------------------------------------------------------------- reading


def _spans_fit(coding: Coding, text: str) -> bool:
    """Whether a record's spans point at its quotes in `text` (i.e. it is the ad coded)."""
    for q in coding.quotes:
        if q.span is None:
            continue
        start, end = q.span
        if end > len(text) or (
            q.grounding in ("exact", "normalized")
            and fold_quote(text[start:end]) != fold_quote(q.text)
        ):
            return False
    return True


def drafts_from_records(
    records: list[dict], path: Path, texts: dict[str, str]
) -> tuple[list[Draft], list[str]]:
    """Records of codings.jsonl as drafts, re-grounded where the ad text is not the one coded;
    a record that does not validate is skipped and listed."""
    drafts, problems = [], []
    for record in records:
        try:
            coding = CodedAd.model_validate(record)
        except ValidationError as exc:
            ad = record.get("ad_id")
            problems.append(f"{path}: record of {ad!r}: {exc.errors()[0]['msg']}; skipped")
            continue
        text = texts.get(coding.ad_id)
        if text is not None and not _spans_fit(coding, text):
            problems.append(f"{coding.ad_id}: the ad text is not the one coded; quotes re-grounded")
            coding = ground(coding, text)
        md = path.parent / f"{coding.ad_id}.md"
        md_path = md if md.exists() else None
        drafts.append(Draft(coding, list(coding.ungrounded), coding.warnings, md_path))
    return drafts, problems


def drafts_from_markdown(out: Path, texts: dict[str, str], book: Codebook):
    """The *.md drafts of OUT, grounded against their ad; dropped quotes from the notes."""
    drafts, problems = [], []
    for path in sorted(Path(out).glob("*.md")):
        try:
            text = read_markdown_text(path)
            coding = parse(text, book, path.stem, str(path))
        except InputError as exc:
            problems += [f"{line} ({path.name} skipped)" for line in str(exc).splitlines()]
            continue
        problems += coding.warnings  # lines the parser could not place, each file:line
        if coding.ad_id in texts:
            coding = ground(coding, texts[coding.ad_id])
        drafts.append(Draft(coding, dropped_in_notes(text), [], path))
    return drafts, problems


def _golds(folder: Path, ad_ids: list[str], book: Codebook) -> tuple[dict, list[str]]:
    golds, problems = {}, []
    for ad_id in ad_ids:
        path = Path(folder) / f"{ad_id}.md"
        if path.is_file():
            try:
                golds[ad_id] = read_coding_file(path, book, strict=False)
                problems += golds[ad_id].warnings
            except InputError as exc:
                problems += [f"{line} (gold not used)" for line in str(exc).splitlines()]
    return golds, problems


def _manifest(out: Path) -> tuple[dict | None, list[str]]:
    path = Path(out) / "manifest.json"
    if not path.exists():
        return None, []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [f"{path}: cannot read: {exc}"]
    return (data, []) if isinstance(data, dict) else (None, [f"{path}: not a JSON object"])


def _read_ads(ads_path: Path | None, fields: TableFields | None, ids: list[str] | None):
    """The ads of `ids` (all when None) by id, and the problems met reading them."""
    if ads_path is None:
        return {}, []
    keep = None if ids is None else set(ids).__contains__
    reader = AdReader([ads_path], fields, keep)
    ads = {ad.id: ad for ad in reader.read()}
    return ads, reader.problems.all()


def _drafts(out: Path, ads_path, fields, book: Codebook, selection: Selection):
    """The chosen drafts, the ads they need, every draft's tally, and the problems."""
    records_path = out / "codings.jsonl"
    if records_path.exists():
        found = survey(records_path, selection)
        chosen = [ad_id for ad_id, _, _ in found.chosen]
        ads, problems = _read_ads(ads_path, fields, chosen)
        texts = {ad_id: ad.text for ad_id, ad in ads.items()}
        records = chosen_records(records_path, found.chosen)
        drafts, more = drafts_from_records(records, records_path, texts)
        return drafts, ads, found.tally, problems + more
    ads, problems = _read_ads(ads_path, fields, None)  # Markdown drafts: a few hundred files
    texts = {ad_id: ad.text for ad_id, ad in ads.items()}
    every, more = drafts_from_markdown(out, texts, book)
    entries = [(d.coding.ad_id, d.coding.agreement) for d in every]
    picked = set(selection.choose(entries))
    drafts = [d for d in every if d.coding.ad_id in picked]
    return drafts, ads, tally_of([d.coding for d in every]), problems + more


def load_review(
    out: Path,
    ads_path: Path | None,
    gold_path: Path | None,
    book: Codebook,
    fields: TableFields | None = None,
    selection: Selection | None = None,
) -> ReviewInput:
    """Everything the site shows; problems that only cost a detail are listed, not raised.
    With a `selection`, only its drafts (and their ads and gold) are read and held."""
    out, selection = Path(out), selection or Selection()
    drafts, ads, tally, problems = _drafts(out, ads_path, fields, book, selection)
    failures = [f for f in read_records(out / "failures.jsonl") if isinstance(f.get("ad_id"), str)]
    if selection.ids is not None:
        failures = [f for f in failures if f["ad_id"] in set(selection.ids)]
    if not drafts and not failures and not tally.drafts:
        raise InputError("\n".join([*problems, f"{out}: no drafts (no codings.jsonl, no *.md)"]))
    ids = [d.coding.ad_id for d in drafts]
    golds, gold_problems = (
        _golds(gold_path, ids + [f["ad_id"] for f in failures], book) if gold_path else ({}, [])
    )
    manifest, manifest_problems = _manifest(out)
    missing = [f"{i}: no ad text in {ads_path}" for i in ids if ads_path and i not in ads]
    problems = problems + gold_problems + manifest_problems + missing
    inp = ReviewInput(out, drafts, failures, manifest, ads, golds, problems, ads_path, gold_path)
    inp.tally = tally
    return inp


# --------------------------------------------------------------------- rendering


def _environment() -> Environment:
    return page_templates(TEMPLATES)


def _assets() -> dict:
    """The inline stylesheet and script, and a policy that lets only that script run."""
    css = (TEMPLATES / "review.css").read_text(encoding="utf-8")
    js = (TEMPLATES / "review.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    csp = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    return {"css": Markup(css), "js": Markup(js), "csp": csp}


def _overview(pages: list[dict]) -> dict:
    gold = [p for p in pages if p["gold"] is not None]
    both = [p for p in gold if p["gold"]["profile"] and p["profile"]]
    return {
        "ads": len(pages),
        "with_gold": len(gold),
        "profile_agree": sum(p["gold"]["profile"] == p["profile"] for p in both),
        "profile_pairs": len(both),
        **{k: sum(p["counts"][k] for p in gold) for k in ("matched", "missed", "extra")},
    }


def _failed_row(failure: dict, inp: ReviewInput) -> dict:
    ad, gold = inp.ads.get(failure["ad_id"]), inp.golds.get(failure["ad_id"])
    page = {
        "ad_id": failure["ad_id"],
        "title": ad.title if ad else None,
        "organisation": ad.organisation if ad else None,
        "profile": None,
        "gold": {"profile": gold.profile} if gold else None,
    }
    return index_row(page, None, failure)


def _accept_command(draft_path: str | None, inp: ReviewInput) -> str | None:
    """The command that turns this draft, once corrected, into a gold coding."""
    if draft_path is None:
        return None
    args = ["autocode", "accept", draft_path, "--gold", str(inp.gold_path or "gold/")]
    args += ["--ads", str(inp.ads_path)] if inp.ads_path else []
    return shlex.join(args)


def lowest_agreement_first(drafts: list[Draft]) -> list[Draft]:
    """Consensus drafts by agreement among their codings, lowest first; the others after."""

    def key(draft: Draft) -> tuple[bool, float]:
        agreement = draft.coding.agreement
        return agreement is None, agreement if agreement is not None else 0.0

    return sorted(drafts, key=key)


def build_site(inp: ReviewInput, book: Codebook, by_agreement: bool = False) -> dict[str, str]:
    """File name -> HTML of the pages of the site; `by_agreement` orders the index and the
    pages' previous/next links lowest agreement first. The drafts are those `load_review`
    chose (a corpus of many thousand ads: a sample of them); the charts count every draft."""
    env, assets = _environment(), _assets()
    drafts = lowest_agreement_first(inp.drafts) if by_agreement else inp.drafts
    names = page_names([d.coding.ad_id for d in drafts])
    pages = [
        ad_page(d, inp.ads.get(d.coding.ad_id), inp.golds.get(d.coding.ad_id), book) for d in drafts
    ]
    site = {}
    for i, page in enumerate(pages):
        nav = {
            "prev": names[pages[i - 1]["ad_id"]] if i else None,
            "next": names[pages[i + 1]["ad_id"]] if i + 1 < len(pages) else None,
        }
        page["accept"] = _accept_command(page["draft_path"], inp)
        site[names[page["ad_id"]]] = env.get_template("ad.html.j2").render(
            page=page, nav=nav, **assets
        )
    failures = {f["ad_id"]: f for f in inp.failures}
    rows = [index_row(p, names[p["ad_id"]], failures.get(p["ad_id"])) for p in pages]
    rows += [_failed_row(f, inp) for f in inp.failures if f["ad_id"] not in names]
    site["index.html"] = env.get_template("index.html.j2").render(
        rows=rows,
        shown=None if len(drafts) >= inp.tally.drafts else (len(drafts), inp.tally.drafts),
        out=str(inp.out),
        summary=run_summary(inp.manifest),
        overview=_overview(pages),
        charts=charts(pages, inp.golds, inp.tally, book),
        problems=inp.problems,
        **assets,
    )
    return site


def write_site(site: dict[str, str], folder: Path) -> Path:
    """Write every page (each atomically); the index page's path."""
    for name, html in site.items():
        atomic_write_text(Path(folder) / name, html)
    return Path(folder) / "index.html"
