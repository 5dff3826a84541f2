"""A small hand-made corpus for the `autocode stats` tests, built from codebook positions."""

from __future__ import annotations

from pipeline.record import Coding, Quote, Tool


def corpus(book) -> list[Coding]:
    """Four ads built from codebook positions, so any codebook gives the same numbers.

    a, c: first and second category of the first part; b: its last; s: the first category
    of the last quotes part; t0, t1: the first two tool categories.
    """
    cats = book.parts[0].all_categories()
    a, c, b = cats[0].id, cats[1].id, cats[-1].id
    s = next(p for p in reversed(book.parts) if p.kind == "quotes").all_categories()[0].id
    t0, t1 = book.ids_of_kind("tools")[:2]
    p0, p1 = book.profile_names[:2]

    def q(cat: str, n: int) -> list[Quote]:
        return [Quote(category=cat, text=f"{cat} passage {i}") for i in range(n)]

    return [
        Coding(
            ad_id="ad1",
            profile=p0,
            quotes=q(a, 2) + q(b, 1),
            tools=[Tool(category=t0, name="Python"), Tool(category=t1, name="AWS")],
        ),
        Coding(
            ad_id="ad2",
            profile=p0,
            quotes=q(a, 1),
            tools=[Tool(category=t0, name="python"), Tool(category=t0, name="Scikit-Learn")],
        ),
        Coding(
            ad_id="ad3", profile=p1, quotes=q(b, 2) + q(c, 1), tools=[Tool(category=t0, name="C++")]
        ),
        Coding(ad_id="ad4", quotes=q(s, 1)),
    ]
