"""The editor's data: which ads, in what order, and what the API says about each (no HTTP).

A session is the review input (`site.load_review`) seen through the editor: the queue of
ads (a `--queue` file, else lowest agreement first, else as in OUT), each ad's text, draft
and saved gold, and the checks a coding sent by the page must pass before it is saved.
In blind mode the draft, its support and the gold are never sent: the coder sees the ad alone.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.grounding import ground
from pipeline.record import Coding
from pipeline.review.site import ReviewInput, lowest_agreement_first
from pipeline.review.workspace import Workspace

STATUSES = ("not started", "in progress", "saved")
MAX_PAGE = 500


@dataclass
class Session:
    inp: ReviewInput
    book: Codebook
    workspace: Workspace
    queue: list[str]
    drafts: dict[str, Coding] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def blind(self) -> bool:
        return self.workspace.blind

    def ad(self, ad_id: str) -> Ad | None:
        return self.inp.ads.get(ad_id)

    def status(self, ad_id: str) -> str:
        if self.workspace.gold_path(ad_id).exists():
            return "saved"
        return "in progress" if self.workspace.wip_path(ad_id).exists() else "not started"

    def neighbours(self, ad_id: str) -> tuple[str | None, str | None]:
        i = self.queue.index(ad_id)
        return (self.queue[i - 1] if i else None), (
            self.queue[i + 1] if i + 1 < len(self.queue) else None
        )


def make_session(
    inp: ReviewInput, book: Codebook, workspace: Workspace, queue: list[str] | None
) -> Session:
    """The queue's ads that can be edited (those with a draft or, blind, with ad text)."""
    drafts = {d.coding.ad_id: d.coding for d in lowest_agreement_first(inp.drafts)}
    known = set(drafts) | (set(inp.ads) if workspace.blind else set())
    problems = []
    if queue is None:
        order = list(drafts)  # lowest agreement first (a stable sort: else as in OUT)
    else:
        order = list(dict.fromkeys(i for i in queue if i in known))
        unknown = [i for i in queue if i not in known]
        if unknown:
            problems.append(
                f"{len(unknown)} queued ads have no draft or ad text and are left out: "
                + ", ".join(unknown[:10])
                + (" …" if len(unknown) > 10 else "")
            )
    return Session(inp, book, workspace, order, drafts, problems)


def progress(session: Session) -> dict:
    """n of N saved, per coder (from the corrections log; saved before the log: "unknown")."""
    by = session.workspace.saved_by()
    saved = [i for i in session.queue if session.workspace.gold_path(i).exists()]
    per_coder: dict[str, int] = {}
    for ad_id in saved:
        coder = by.get(ad_id, "unknown")
        per_coder[coder] = per_coder.get(coder, 0) + 1
    return {"total": len(session.queue), "saved": len(saved), "by_coder": per_coder}


def listing(session: Session, offset: int, limit: int) -> dict:
    """One page of the queue for `GET /api/ads`."""
    limit = max(1, min(limit, MAX_PAGE))
    by = session.workspace.saved_by()
    items = []
    for position, ad_id in enumerate(session.queue[offset : offset + limit], start=offset + 1):
        ad, draft = session.ad(ad_id), session.drafts.get(ad_id)
        items.append(
            {
                "id": ad_id,
                "position": position,
                "title": (draft.title if draft else None) or (ad.title if ad else None),
                "organisation": (draft.organisation if draft else None)
                or (ad.organisation if ad else None),
                "status": session.status(ad_id),
                "coder": by.get(ad_id),
                "agreement": None if session.blind or draft is None else draft.agreement,
            }
        )
    return {"offset": offset, "limit": limit, "items": items, **progress(session)}


def _record(coding: Coding | None) -> dict | None:
    return None if coding is None else coding.model_dump(mode="json", exclude={"warnings"})


def ad_payload(session: Session, ad_id: str) -> dict:
    """`GET /api/ads/{id}`: the ad, the draft and gold records (not in blind mode), the work
    in progress, the codebook's lists and the queue neighbours."""
    ad, draft = session.ad(ad_id), session.drafts.get(ad_id)
    text = ad.text if ad else None
    gold = None if session.blind else session.workspace.read_gold(ad_id)
    if gold is not None and text is not None:
        gold = ground(gold, text)
    if draft is not None and text is not None:
        draft = ground(draft, text)
    prev, nxt = session.neighbours(ad_id)
    return {
        "id": ad_id,
        "title": (draft.title if draft else None) or (ad.title if ad else None),
        "organisation": (draft.organisation if draft else None)
        or (ad.organisation if ad else None),
        "text": text,
        "blind": session.blind,
        "coder": session.workspace.coder,
        "draft": None if session.blind else _record(draft),
        "gold": _record(gold),
        "wip": session.workspace.read_wip(ad_id),
        "status": session.status(ad_id),
        "prev": prev,
        "next": nxt,
        "position": session.queue.index(ad_id) + 1,
        "total": len(session.queue),
    }


def codebook_payload(book: Codebook) -> dict:
    """What the page needs of the codebook: categories by kind in order, and the profiles."""
    cats = [
        {"id": c.id, "name": c.name, "kind": part.kind, "part": part.heading}
        for part in book.parts
        for c in part.all_categories()
    ]
    return {"categories": cats, "profiles": book.profile_names}


def coding_problems(body: object, ad_id: str, book: Codebook, text: str | None):
    """The coding a PUT body describes, or the problems with it, each naming its field."""
    if not isinstance(body, dict):
        return None, ["the body must be one coding record (a JSON object)"]
    if body.get("ad_id", ad_id) != ad_id:
        return None, [f"ad_id: {body.get('ad_id')!r} is not the ad of this URL ({ad_id!r})"]
    try:
        coding = Coding.model_validate(body | {"ad_id": ad_id})
    except ValidationError as exc:
        return None, [_pydantic_problem(e) for e in exc.errors()]
    problems = []
    if not coding.profile:
        problems.append("profile: no profile: choose one of the codebook's profiles")
    elif coding.profile not in book.profile_names:
        problems.append(f"profile: {coding.profile!r} is not a profile of the codebook")
    quotes, tools = set(book.ids_of_kind("quotes")), set(book.ids_of_kind("tools"))
    for i, q in enumerate(coding.quotes):
        if q.category not in quotes:
            problems.append(f"quotes[{i}].category: {q.category!r} is not a quote category")
    for i, t in enumerate(coding.tools):
        if t.category not in tools:
            problems.append(f"tools[{i}].category: {t.category!r} is not a tool category")
    if text is not None:
        grounded = ground(coding, text).quotes
        problems += [
            f"quotes[{i}].text: not found in the ad: {q.text!r}"
            for i, q in enumerate(grounded)
            if q.grounding == "not_found"
        ]
    return (None if problems else coding), problems


def _pydantic_problem(error) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(body)"
    return f"{where}: {error['msg']}"


def redraft(session: Session, ads_path: Path | None, out: Path) -> dict | None:
    """The step that lets corrections teach the next drafts: once some ads are saved, the
    `autocode code` command that re-drafts the others with the most similar saved codings as
    few-shot examples (`--examples-gold` reads the gold folder the editor writes)."""
    if session.blind or ads_path is None:
        return None
    done = progress(session)
    unsaved = [i for i in session.queue if not session.workspace.gold_path(i).exists()]
    if not done["saved"] or not unsaved:
        return None
    sources = [ad.source for ad in map(session.ad, unsaved) if ad is not None]
    from_folder = Path(ads_path).is_dir() and len(sources) == len(unsaved) <= 40
    targets = sources if from_folder else [str(ads_path)]
    gold = str(session.workspace.gold)
    command = ["autocode", "code", *targets, "--out", f"{str(out).rstrip('/')}-redrafted"]
    command += ["--examples", "2", "--examples-gold", gold, "--examples-ads", str(ads_path)]
    return {"saved": done["saved"], "unsaved": len(unsaved), "command": shlex.join(command)}
