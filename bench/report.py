"""The results as tables: rich on the terminal, Markdown between markers in BENCHMARKS.md.

Both are drawn from `sections(results)`, so they never disagree. Only the text between
BEGIN and END in BENCHMARKS.md is rewritten; the notes around it are kept.
"""

from __future__ import annotations

from pathlib import Path

BEGIN = "<!-- bench:begin (written by `make bench`; edit outside these markers) -->"
END = "<!-- bench:end -->"

Section = tuple[str, list[str], list[list[str]]]


def _f(value, digits: int = 2, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _goal(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def _speed(r: dict) -> Section:
    d = r.get("details", {})
    rows = []
    for row in r.get("concurrency") or []:
        ok = row["efficiency"] >= 0.8 if row["concurrency"] == 16 else None
        rows.append(
            [
                f"concurrency {row['concurrency']}: ads/s, efficiency",
                f"{_f(row['ads_per_s'])} ads/s, {_f(row['efficiency'], 3)}",
                "efficiency >= 0.8" if ok is not None else "",
                _goal(ok) if ok is not None else "",
            ]
        )
    c = d.get("concurrency")
    if c:
        rows.append(
            [
                "first request of a run (SDK import, client start; not in the above)",
                f"{_f(c['first_request_s'])} s",
                "",
                "",
            ]
        )
    o = d.get("overhead")
    if o:
        ms = r["overhead_ms_per_ad"]
        rows.append(
            [
                f"cached re-run of {o['ads']:,} ads, per ad (Run.execute, median of "
                f"{len(o['rerun_s'])})",
                f"{_f(ms)} ms ({100 * ms / 500:.1f}% of a 0.5 s request)",
                "< 5 ms",
                _goal(ms < 5),
            ]
        )
        rows.append(
            [
                "same, whole `autocode code` command (start-up included)",
                f"{_f(o['command_ms_per_ad'])} ms ({_f(o['command_s'])} s)",
                "",
                "",
            ]
        )
    s = d.get("startup")
    if s:
        rows.append(
            [
                f"`autocode --help` start-up (median of {s['runs']})",
                f"{_f(s['help_s'], 3)} s ({_f(s['ratio_to_python'], 1)} x bare python "
                f"{_f(s['python_s'], 3)} s)",
                "",
                "",
            ]
        )
    e = d.get("eval")
    if e:
        boot = f", {e['n_boot']} bootstrap resamples" if e.get("n_boot") else ""
        cpu = f" (CPU {_f(e['cpu_s'])} s)" if e.get("cpu_s") is not None else ""
        rows.append(
            [
                f"`autocode eval`, {e['paired_ads']:,} ads vs a perturbed copy{boot} "
                f"(median of {len(e['runs'])}; CPU: user + system)",
                f"{_f(r['eval_s'])} s{cpu}",
                "< 1 s",
                _goal(r["eval_s"] < 1),
            ]
        )
        if e.get("seconds_without_bootstrap") is not None:
            rows.append(
                [
                    "  ... the same with `--bootstrap 0` (no intervals)",
                    f"{_f(e['seconds_without_bootstrap'])} s",
                    "",
                    "",
                ]
            )
        if e.get("bootstrap_s") is not None:
            rows.append(
                [
                    "  ... of which the bootstrap: per-ad counts and resampling (in process)",
                    f"{_f(e['bootstrap_s'], 3)} s",
                    "",
                    "",
                ]
            )
    st = d.get("stats")
    if st:
        rows.append(
            [
                f"`autocode stats --by industry`, {st['ads']:,} ads, {st['industries']} "
                f"industries, {st['tables']} tables (median of {len(st['runs'])})",
                f"{_f(r['stats_s'])} s",
                "< 5 s",
                _goal(r["stats_s"] < 5),
            ]
        )
    return "Speed", ["benchmark", "result", "goal", ""], rows


def _tokens(r: dict) -> list[Section]:
    t, c = r.get("tokens"), r.get("cost_per_1000_ads")
    if not t:
        return []
    rows = [
        [
            "static part: system prompt + response schema",
            f"{t['static']:,} ({t['static_system']:,} + {t['static_schema']:,})",
        ],
        [
            f"per ad: mean / median / max over {t['ads']:,} ads",
            f"{_f(t['mean_per_ad'], 1)} / {_f(t['median_per_ad'], 0)} / {t['max_per_ad']:,}",
        ],
    ]
    if c:
        rows.append(
            [
                "completion per ad (measured, embedded model on the dev ads)",
                _f(c["completion_tokens_per_ad"], 1),
            ]
        )
    sections = [("Prompt tokens (" + t["tokenizer"] + ")", ["", "tokens"], rows)]
    if c:
        head = [
            "model (USD per 1M tokens: input / cached input / output)",
            "standard",
            "with prompt caching",
            "Batch API",
        ]
        cost_rows = [
            [
                f"{name} ({p['price_per_mtok']['input']} / "
                f"{p['price_per_mtok']['cached_input']} / {p['price_per_mtok']['output']})",
                f"${p['standard']:.2f}",
                f"${p['prompt_caching']:.2f}",
                f"${p['batch']:.2f}",
            ]
            for name, p in c["models"].items()
        ]
        sections.append(("Cost per 1,000 ads (prices: " + c["source"] + ")", head, cost_rows))
    return sections


def _embedded(r: dict) -> list[Section]:
    e = r.get("embedded")
    if not e:
        return []
    p, s = e["probe_s"], e["scores"]
    rows = [
        [
            f"seconds per ad, prefix cache on ({e['ads']} dev ads, {e['coded']} coded, "
            f"{_f(e['requests_per_ad'])} requests per ad)",
            _f(e["seconds_per_ad_on"], 1),
        ],
        [
            f"prompt evaluation of one request ({e['probe_ad']}, one-token answer): "
            "fresh server, nothing to reuse",
            f"{_f(p['cache_false_cold'])} s",
        ],
        [
            "  ... right after another ad's request: --cache false / --cache true",
            f"{_f(p['cache_false_next_ad'])} / {_f(p['cache_true_next_ad'])} s",
        ],
        [
            "  ... after an unrelated request: --cache true (RAM cache restores the prefix)",
            f"{_f(p['cache_true_after_filler'])} s",
        ],
        [
            "seconds per ad, no prefix reuse (estimated: on + requests x (fresh - reused))",
            f"{_f(e['seconds_per_ad_off_estimated'], 1)}: ratio off / on "
            f"{_f(e['ratio_off_to_on'], 2)}",
        ],
    ]
    rows += [
        [
            f"measured full coding with reuse defeated: {t['ad']}",
            f"{t['seconds']} s ({'coded' if t['coded'] else 'failed'}, {t['requests']} requests)",
        ]
        for t in e.get("per_ad_off", [])
    ]
    rows.append(["completion tokens per coded ad", _f(e["completion_tokens_per_ad"], 1)])
    scores = [
        [
            "profile accuracy / kappa",
            f"{_f(s['profile_accuracy'], 3)} / {_f(s['profile_kappa'], 3)}",
        ],
        [
            "quote F1 strict / partial",
            f"{_f(s['quote_f1_strict'], 3)} / {_f(s['quote_f1_partial'], 3)}",
        ],
        ["presence macro kappa", _f(s["presence_macro_kappa"], 3)],
        ["tool F1 (names)", _f(s["tool_f1_name"], 3)],
    ]
    scores += [[f"failed: {ad}", reason[:120]] for ad, reason in e["failed"].items()]
    return [
        (f"Embedded model ({e['model']})", ["", "result"], rows),
        (
            f"Embedded drafts vs dev gold ({s['paired_ads']} paired ads)",
            ["metric", "value"],
            scores,
        ),
    ]


def _editor(r: dict) -> list[Section]:
    e = r.get("editor")
    if not e:
        return []
    ok = e["editor_ready_ms"] < e["goal_ms"]
    rows = [
        [
            f"editor ready: a {e['chars']:,}-character ad, {e['quotes']} quotes, {e['tools']} "
            f"tools (median of {e['loads']} loads)",
            f"{_f(e['editor_ready_ms'], 0)} ms",
            f"< {e['goal_ms']} ms",
            _goal(ok),
        ],
        [
            "the same ad's static review page, to its load event",
            f"{_f(e['static_load_ms'], 0)} ms: editor / static {_f(e['ratio_editor_to_static'])}",
            "",
            "",
        ],
        [
            "one edit (delete an entry: ad and panel redrawn)",
            f"{_f(e['one_edit_ms'], 0)} ms",
            "",
            "",
        ],
    ]
    return [
        (
            "Review editor (`autocode review --serve`, headless Chromium)",
            ["", "result", "goal", ""],
            rows,
        )
    ]


def _scale(r: dict) -> list[Section]:
    s = r.get("scale")
    if not s:
        return []
    sizes = s["sizes"]
    rows = []
    for command, by_size in s["commands"].items():
        ratio = s["ratios"][command]
        cells = []
        for n in sizes:
            res = by_size.get(str(n))
            cells.append(
                "not run"
                if res is None
                else f"{_f(res['seconds'], 1)} s, {res['peak_mb']:,} MB"
                + ("" if res["status"] == 0 else f" (exit {res['status']})")
            )
        per_ad = ", ".join(_f(v, 3) for v in ratio["ms_per_ad"])
        growth = ", ".join(_f(v) for v in ratio["memory_growth"])
        top = by_size.get(str(max(sizes)))
        ok = (
            None
            if top is None
            else top["peak_mb"] < 2048 and (ratio["memory_growth"] or [0])[-1] <= 1.25
        )
        rows.append([command, *cells, per_ad, growth, _goal(ok)])
    head = [
        "command",
        *[f"{n:,} ads" for n in sizes],
        "ms per ad",
        "memory x per 10x ads",
        "< 2 GB, <= 1.25x",
    ]
    return [("Scale: time and peak memory by corpus size", head, rows)]


def sections(results: dict) -> list[Section]:
    skipped = [[part, reason] for part, reason in results.get("skipped", {}).items()]
    return [
        _speed(results),
        *_tokens(results),
        *_embedded(results),
        *_editor(results),
        *_scale(results),
    ] + ([("Skipped", ["part", "reason"], skipped)] if skipped else [])


def print_tables(results: dict, console) -> None:
    from rich.table import Table

    for title, head, rows in sections(results):
        table = Table(title=title, title_justify="left")
        for name in head:
            table.add_column(name)
        for row in rows:
            table.add_row(*row)
        console.print(table)


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Last run {m['date']} on {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, "
        f"Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        "",
        f"Conditions: {results['conditions_note']}",
        "",
    ]
    for title, head, rows in sections(results):
        lines += [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def rewrite(path: Path, results: dict) -> None:
    """Replace the generated block of BENCHMARKS.md (append one if it has none)."""
    block = f"{BEGIN}\n\n{markdown(results)}\n{END}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
