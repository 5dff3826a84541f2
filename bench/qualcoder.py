"""Run QualCoder's own REFI-QDA importer on an autocode export and compare its database with it.

QualCoder (github.com/ccbogel/QualCoder) is not a dependency of autocode. This check runs with a
Python that has QualCoder's requirements, on a QualCoder source tree, and imports nothing from
autocode (it reads the export's project.qde with the standard library):

    git --git-dir=QUALCODER.git archive c3204641 | tar -x -C /tmp/qualcoder     # 4.0 beta
    python3.11 -m venv /tmp/qcvenv
    /tmp/qcvenv/bin/pip install -r /tmp/qualcoder/requirements.txt   # PyQt6, pymupdf, langchain...
    .venv/bin/autocode export gold --ads raw --qdpx /tmp/qc/a.qdpx
    /tmp/qcvenv/bin/python bench/qualcoder.py --qualcoder /tmp/qualcoder /tmp/qc/a.qdpx \
        --reexport /tmp/qc/a-qualcoder.qdpx --autocode .venv/bin/autocode

(or QUALCODER_SRC=/tmp/qualcoder instead of --qualcoder). It drives QualCoder as its menu
"Import REFI-QDA project" does (`MainWindow.refi_project_import`: a new project, then
`refi.RefiImport`), offscreen, with only the modal message boxes, dialogs and file choosers
answered by this script (what they said is recorded), in a throwaway HOME. Then it reads the
project's sqlite database (data.qda) and compares it with the export: source texts, every
coding (place, text, code, owner, note), sources' owners, codes and their colours, variables,
where each note went, the project memo. With --reexport, QualCoder's own `refi.RefiExport`
writes the imported project again; with --autocode as well, `autocode import` reads both files
per coder and the codings are compared. Exit status 1 on a mismatch, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import gettext
import io
import json
import logging
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

NS = "{urn:QDA-XML:project:1.0}"
HOME = os.environ.get("HOME", "")  # QualCoder gets a throwaway one; autocode keeps this
BOM = b"\xef\xbb\xbf"
# Lines of QualCoder's action log that every import writes; any other line is a warning.
ROUTINE_LOG = (
    "REFI-QDA Project Import",
    "Reading from:",
    "Creating temporary directory:",
    "QDPX created with:",
    "Parse users.",
    "Parse codes and categories.",
    "Parse variables.",
    "Parsing and loading project memo",
    "Parsed cases for file variables.",
    "Parsing sources.",
    "Parsing Notes.",
    "Parsing cases.",
    "Parsing sets.",
)
# Message boxes that every import or export shows (the steps, QualCoder's notices).
ROUTINE_DIALOGS = (
    "REFI-QDA import steps",
    "REFI-QDA Project import",
    "AI Integration",
    "Project exported",
    "RefiLineEndings",
)


def q(tag: str) -> str:
    return NS + tag


# --- the export, as written -------------------------------------------------------------


@dataclass
class Code:
    name: str
    color: str | None
    codable: bool
    description: str
    parent: str | None


@dataclass
class Coding:
    source: str
    code: str
    start: int
    end: int
    owner: str | None
    note: str

    @property
    def key(self) -> tuple:
        return (self.source, self.code, self.start, self.end, self.owner)


@dataclass
class Source:
    name: str
    text: str
    description: str
    owner: str | None
    bom: bool
    values: dict[str, tuple[str, str | None]] = field(default_factory=dict)


@dataclass
class Note:
    name: str
    text: str
    owner: str | None


@dataclass
class Export:
    users: dict[str, str]
    codes: dict[str, Code]
    sources: list[Source]
    codings: list[Coding]
    notes: list[Note]
    variables: list[str]
    memo: str
    uncoded: int = 0


def text_of(element: ET.Element | None) -> str:
    return "" if element is None or element.text is None else element.text


def user_of(element: ET.Element, users: dict[str, str]) -> str | None:
    """The name of the element's creating (else modifying) user, None if it names none."""
    guid = element.get("creatingUser") or element.get("modifyingUser")
    return users.get(guid or "")


def read_codes(parent: ET.Element, above: str | None, codes: dict[str, Code]) -> None:
    for element in parent.findall(q("Code")):
        name = element.get("name", "")
        codes[element.get("guid", "")] = Code(
            name=name,
            color=element.get("color"),
            codable=element.get("isCodable") != "false",
            description=text_of(element.find(q("Description"))),
            parent=above,
        )
        read_codes(element, name, codes)


def read_source(element, export: Export, variables: dict[str, str], files) -> Source:
    raw = files(element.get("plainTextPath", ""))
    source = Source(
        name=element.get("name", ""),
        text=raw.removeprefix(BOM).decode("utf-8"),
        description=text_of(element.find(q("Description"))),
        owner=user_of(element, export.users),
        bom=raw.startswith(BOM),
    )
    for value in element.findall(q("VariableValue")):
        ref = value.find(q("VariableRef"))
        name = variables.get("" if ref is None else ref.get("targetGUID", ""), "?")
        given = [child for child in value if child.tag.endswith("Value")]
        source.values[name] = (text_of(given[0]) if given else "", user_of(value, export.users))
    for selection in element.findall(q("PlainTextSelection")):
        codings = selection.findall(q("Coding"))
        export.uncoded += not codings
        for coding in codings:
            ref = coding.find(q("CodeRef"))
            code = export.codes.get("" if ref is None else ref.get("targetGUID", ""))
            export.codings.append(
                Coding(
                    source=source.name,
                    code=code.name if code else "?",
                    start=int(selection.get("startPosition", "-1")),
                    end=int(selection.get("endPosition", "-1")),
                    owner=user_of(coding, export.users) or user_of(selection, export.users),
                    note=text_of(selection.find(q("Description"))),
                )
            )
    return source


def internal_files(archive: zipfile.ZipFile):
    """A reader of `internal://NAME` paths: sources/NAME or Sources/NAME in the archive."""
    members = {name.lower(): name for name in archive.namelist()}

    def read(path: str) -> bytes:
        name = path.removeprefix("internal://")
        return archive.read(members[f"sources/{name}".lower()])

    return read


def read_export(path: Path) -> Export:
    with zipfile.ZipFile(path) as archive:
        qde = next(name for name in archive.namelist() if name.endswith(".qde"))
        root = ET.fromstring(archive.read(qde))
        files = internal_files(archive)
        users = {u.get("guid", ""): u.get("name", "") for u in root.iter(q("User"))}
        codes: dict[str, Code] = {}
        for book in root.findall(q("CodeBook")):
            for codes_element in book.findall(q("Codes")):
                read_codes(codes_element, None, codes)
        variables = {v.get("guid", ""): v.get("name", "") for v in root.iter(q("Variable"))}
        export = Export(users, codes, [], [], [], list(variables.values()), "")
        export.memo = text_of(root.find(q("Description")))
        for element in root.iter(q("TextSource")):
            export.sources.append(read_source(element, export, variables, files))
        for note in root.iter(q("Note")):
            text = text_of(note.find(q("PlainTextContent")))
            if note.get("plainTextPath"):
                text = files(note.get("plainTextPath", "")).removeprefix(BOM).decode("utf-8")
            export.notes.append(Note(note.get("name", ""), text, user_of(note, users)))
    return export


# --- QualCoder, headless ----------------------------------------------------------------


@dataclass
class Seen:
    """What QualCoder showed: message boxes and dialogs, its log's warnings, its prints."""

    dialogs: list[tuple[str, str]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    printed: str = ""
    action_log: str = ""
    codername: str = ""
    coders: list[str] = field(default_factory=list)
    palette: list[str] = field(default_factory=list)


class LogRecorder(logging.Handler):
    def __init__(self, seen: Seen):
        super().__init__(logging.WARNING)
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.log.append(f"{record.name}: {record.getMessage()}")


def qt_message(seen: Seen, kind, text: str) -> None:
    """Qt's own messages: critical ones are kept, warnings of the offscreen platform dropped."""
    from PyQt6 import QtCore

    if kind in (QtCore.QtMsgType.QtCriticalMsg, QtCore.QtMsgType.QtFatalMsg):
        seen.log.append(f"Qt: {text}")


def load_qualcoder(src: Path, home: Path):
    """Import QualCoder's main module from a source tree, with HOME (its settings) in `home`."""
    os.environ["HOME"] = str(home)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false;qt.qpa.*=false")
    sys.path.insert(0, str(src / "src"))
    gettext.NullTranslations().install()  # QualCoder's `_`, as its gui() installs it
    with contextlib.redirect_stdout(io.StringIO()):
        import qualcoder.__main__ as qualcoder_main
    return qualcoder_main


def patch_dialogs(qualcoder_main, seen: Seen, answers: dict[str, str]) -> None:
    """Answer QualCoder's modal dialogs and file choosers; record what they said."""
    from PyQt6 import QtWidgets

    box, dialog, files = QtWidgets.QMessageBox, QtWidgets.QDialog, QtWidgets.QFileDialog

    def box_exec(self):
        seen.dialogs.append((self.windowTitle(), self.text()))
        return box.StandardButton.Ok

    def box_static(_parent, title, text, *_args, **_kwargs):
        seen.dialogs.append((title, text))
        return box.StandardButton.Yes

    def dialog_exec(self):
        seen.dialogs.append((type(self).__name__, ""))
        return dialog.DialogCode.Accepted  # RefiLineEndings: its default, no change

    box.exec = box_exec
    for name in ("question", "warning", "information", "critical"):
        setattr(box, name, staticmethod(box_static))
    dialog.exec = dialog_exec
    files.getSaveFileName = staticmethod(lambda *a, **k: (answers["project"], "*"))
    files.getOpenFileName = staticmethod(lambda *a, **k: (answers["qdpx"], "(*.qdpx)"))
    files.getExistingDirectory = staticmethod(lambda *a, **k: answers["directory"])
    qualcoder_main.MainWindow.get_latest_github_release = lambda self: None  # no network


def run_qualcoder(src: Path, qdpx: Path, work: Path, reexport: Path | None) -> tuple[Path, Seen]:
    """Import `qdpx` into a new QualCoder project under `work`; return its database."""
    home = work / "home"
    home.mkdir()
    qualcoder_main = load_qualcoder(src, home)
    from PyQt6 import QtCore, QtWidgets

    seen = Seen()
    QtCore.qInstallMessageHandler(lambda kind, _context, text: qt_message(seen, kind, text))
    application = QtWidgets.QApplication(["qualcoder"])
    logging.getLogger("qualcoder").addHandler(LogRecorder(seen))
    copy = work / "import" / qdpx.name  # its importer unpacks beside the file
    copy.parent.mkdir()
    shutil.copyfile(qdpx, copy)
    answers = {"project": str(work / "project"), "qdpx": str(copy), "directory": str(work)}
    patch_dialogs(qualcoder_main, seen, answers)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        window = qualcoder_main.MainWindow(qualcoder_main.App())
        window.refi_project_import()
        seen.codername = window.app.settings["codername"]
        seen.coders = window.app.get_coder_names_in_project()  # as its dialogs list them
        seen.palette = list(sys.modules["qualcoder.color_selector"].colors)
        seen.action_log = window.ui.textEdit.toPlainText()
        if reexport is not None:
            answers["directory"] = str(work / "export")
            Path(answers["directory"]).mkdir()
            qualcoder_main.RefiExport(window.app, window.ui.textEdit, "project")
            made = Path(answers["directory"]) / f"{window.app.project_name[:-4]}.qdpx"
            shutil.copyfile(made, reexport)
    seen.printed = printed.getvalue()
    database = Path(window.app.project_path) / "data.qda"
    window.app.conn.close()
    application.quit()
    return database, seen


# --- QualCoder's database ---------------------------------------------------------------

TABLES = (
    "source",
    "code_name",
    "code_cat",
    "code_text",
    "attribute_type",
    "attribute",
    "annotation",
    "journal",
    "project",
    "coder_names",
    "cases",
)


def read_database(path: Path) -> dict[str, list[dict]]:
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        return {t: [dict(r) for r in connection.execute(f"select * from {t}")] for t in TABLES}
    finally:
        connection.close()


# --- the comparison ---------------------------------------------------------------------


@dataclass
class Section:
    title: str
    said: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass
class Report:
    """Sections of findings; a failure is a mismatch, shown after its section's findings."""

    sections: list[Section] = field(default_factory=list)

    def head(self, title: str) -> None:
        self.sections.append(Section(title))

    def say(self, topic: str, text: str) -> None:
        self.sections[-1].said.append(f"  {topic}: {text}")

    def fail(self, topic: str, text: str) -> None:
        self.sections[-1].failed.append(f"  FAIL {topic}: {text}")

    @property
    def failures(self) -> int:
        return sum(len(section.failed) for section in self.sections)

    def text(self) -> str:
        return "\n".join(
            "\n".join([s.title, *s.said, *s.failed]) for s in self.sections if s.said or s.failed
        )


def counted(counter: Counter) -> str:
    return ", ".join(f"{k} {n}" for k, n in counter.most_common()) or "none"


def some(items: list, shown: int = 3) -> str:
    """A few of `items`, and how many more."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(map(str, items[:shown])) + more


def first_difference(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def check_sources(export: Export, db: dict, report: Report) -> None:
    rows = {row["name"]: row for row in db["source"]}
    users = set(export.users.values())
    same = in_memo = 0
    strangers, others = [], []
    for source in export.sources:
        row = rows.pop(source.name, None)
        if row is None:
            report.fail("sources", f"{source.name} is not in QualCoder")
            continue
        if source.bom:
            report.fail("sources", f"{source.name}: the export's text file starts with a BOM")
        if row["fulltext"] == source.text:
            same += 1
        else:
            at = first_difference(row["fulltext"] or "", source.text)
            report.fail("sources", f"{source.name}: QualCoder's text differs from character {at}")
        if (row["memo"] or "") == source.description:
            in_memo += source.description != ""
        else:
            report.fail("sources", f"{source.name}: the source memo is not its description")
        if row["owner"] not in users:
            strangers.append(f"{source.name} by {row['owner']!r}")
        elif row["owner"] != source.owner:
            others.append(f"{source.name} by {row['owner']}, not {source.owner}")
    if strangers:
        report.fail("owners", f"{len(strangers)} sources owned by no coder: {some(strangers)}")
    if others:
        report.fail("owners", f"{len(others)} sources owned by another coder: {some(others)}")
    for name in rows:
        report.fail("sources", f"QualCoder has a source {name} the export does not")
    owners = Counter(row["owner"] for row in db["source"])
    report.say("sources", f"{len(export.sources)} in the export, {len(db['source'])} in QualCoder")
    report.say("sources", f"texts identical {same}; descriptions in the source memo {in_memo}")
    report.say("owners", f"sources: {counted(owners)}")


def check_codes(export: Export, db: dict, palette: list[str], report: Report) -> None:
    codes = {row["name"]: row for row in db["code_name"]}
    cats = {row["name"]: row for row in db["code_cat"]}
    cat_names = {row["catid"]: row["name"] for row in db["code_cat"]}
    code_names = {row["cid"]: row["name"] for row in db["code_name"]}
    for code in export.codes.values():
        row = (codes if code.codable else cats).get(code.name)
        if row is None:
            kind = "code" if code.codable else "category"
            report.fail("codes", f"{code.name!r} is not a {kind} in QualCoder")
            continue
        if (row["memo"] or "") != code.description:
            report.fail("codes", f"{code.name!r}: the memo is not its description")
        if code.codable:
            parent = cat_names.get(row["catid"]) or code_names.get(row["supercid"])
        else:
            parent = cat_names.get(row["supercatid"])
        if parent != code.parent:
            report.fail("codes", f"{code.name!r} is under {parent!r}, not {code.parent!r}")
    codable = [c for c in export.codes.values() if c.codable]
    report.say("codes", f"{len(codable)} codes, {len(export.codes) - len(codable)} categories")
    check_colours(codable, codes, palette, report)


def check_colours(codable: list[Code], rows: dict, palette: list[str], report: Report) -> None:
    """QualCoder replaces a code's colour by the nearest of its palette: are they still distinct?"""
    given = {c.color for c in codable if c.color}
    kept: dict[str, list[str]] = {}
    for code in codable:
        if code.name in rows:
            kept.setdefault(rows[code.name]["color"], []).append(
                f"{code.name.split(' ')[0]} {code.color}"
            )
    ours = sum(colour.upper() in palette for colour in given)
    report.say("colours", f"{len(given)} distinct in the export ({ours} of QualCoder's palette)")
    report.say("colours", f"{len(kept)} distinct in QualCoder (the nearest of its palette)")
    if len(kept) < len(given):
        shared = [f"{' + '.join(ns)} -> {c}" for c, ns in kept.items() if len(ns) > 1]
        report.fail("colours", "QualCoder gives one colour to " + "; ".join(shared))


def qualcoder_codings(db: dict) -> list[dict]:
    sources = {row["id"]: row for row in db["source"]}
    codes = {row["cid"]: row["name"] for row in db["code_name"]}
    rows = []
    for row in db["code_text"]:
        source = sources.get(row["fid"], {"name": "?", "fulltext": ""})
        key = (source["name"], codes.get(row["cid"], "?"), row["pos0"], row["pos1"], row["owner"])
        rows.append({"key": key, "memo": row["memo"] or "", "seltext": row["seltext"]})
    return rows


def show(key: tuple) -> str:
    source, code, start, end, owner = key
    return f"{source} [{start}:{end}] {code.split(' ')[0]} by {owner}"


def check_codings(export: Export, db: dict, report: Report) -> None:
    expected = Counter(c.key for c in export.codings)
    rows = qualcoder_codings(db)
    actual = Counter(row["key"] for row in rows)
    repeated = [key for key, n in expected.items() if n > 1]
    if repeated:
        report.fail("codings", f"{len(repeated)} repeat (code, place, coder): " + show(repeated[0]))
    for title, keys in (("missing", expected - actual), ("extra", actual - expected)):
        if keys:
            examples = "; ".join(show(k) for k in list(keys)[:3])
            report.fail("codings", f"{sum(keys.values())} {title} in QualCoder, e.g. {examples}")
    texts = {s.name: s.text for s in export.sources}
    wrong = [
        r for r in rows if r["seltext"] != texts.get(r["key"][0], "")[r["key"][2] : r["key"][3]]
    ]
    if wrong:
        report.fail("codings", f"{len(wrong)} with another text, e.g. {show(wrong[0]['key'])}")
    notes = Counter((c.key, c.note) for c in export.codings)
    memos = Counter((row["key"], row["memo"]) for row in rows)
    lost = [key for key, _ in notes - memos if actual[key] == expected[key]]
    if lost:
        report.fail("codings", f"{len(lost)} whose note is not the coding memo: {show(lost[0])}")
    owners = Counter(row["key"][4] for row in rows)
    report.say("codings", f"{len(export.codings)} in the export, {len(rows)} in QualCoder")
    report.say("owners", f"codings: {counted(owners)}")
    if export.uncoded:
        report.say("codings", f"{export.uncoded} selections without a coding (annotations)")


def check_variables(export: Export, db: dict, report: Report) -> None:
    types = {row["name"] for row in db["attribute_type"]}
    for name in set(export.variables) - types:
        report.fail("variables", f"{name!r} is not an attribute in QualCoder")
    ids = {row["name"]: row["id"] for row in db["source"]}
    values = {(r["id"], r["name"]): r for r in db["attribute"] if r["attr_type"] == "file"}
    users = set(export.users.values())
    owners: Counter = Counter()
    strangers, others = [], []
    for source in export.sources:
        for name, (value, owner) in source.values.items():
            row = values.get((ids.get(source.name), name))
            if row is None or (row["value"] or "") != value.strip():
                got = None if row is None else row["value"]
                report.fail("variables", f"{source.name} {name}: {got!r}, not {value!r}")
                continue
            owners[f"{name} by {row['owner']}"] += 1
            if row["owner"] not in users:
                strangers.append(f"{source.name} {name} by {row['owner']!r}")
            elif owner is not None and row["owner"] != owner:
                others.append(f"{source.name} {name} by {row['owner']}, not {owner}")
    report.say("variables", f"{', '.join(export.variables) or 'none'}; values {counted(owners)}")
    if others:
        report.say(
            "owners", f"{len(others)} values by another coder than the export's: {some(others)}"
        )
    if strangers:
        report.fail("owners", f"{len(strangers)} values owned by no coder: {some(strangers)}")


def holds(memo: str | None, text: str) -> bool:
    """Whether a memo holds every line of a note's text (in any layout around them)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return bool(lines) and all(line in (memo or "") for line in lines)


def destinations(note: Note, db: dict) -> list[str]:
    found = []
    if any(row["jentry"] == note.text for row in db["journal"]):
        found.append("journal")
    if any(row["memo"] == note.text for row in db["annotation"]):
        found.append("annotation")
    if any(holds(row["memo"], note.text) for row in db["source"]):
        found.append("source memo")
    if any(holds(row["memo"], note.text) for row in db["project"]):
        found.append("project memo")
    return found


def check_notes(export: Export, db: dict, report: Report) -> None:
    where: Counter = Counter()
    lost = []
    for note in export.notes:
        found = destinations(note, db)
        kind = note.name.split(":")[0]
        where[f"{kind} -> {' + '.join(found) or 'nowhere'}"] += 1
        if not found:
            lost.append(repr(note.name))
    if lost:
        report.fail("notes", f"{len(lost)} are nowhere in QualCoder: {some(lost)}")
    report.say("notes", f"{len(export.notes)} in the export: {counted(where)}")
    journals, annotations = len(db["journal"]), len(db["annotation"])
    report.say("notes", f"QualCoder has {journals} journal entries, {annotations} annotations")


def check_project(export: Export, db: dict, report: Report) -> None:
    memo = db["project"][0]["memo"] or ""
    if memo != export.memo:
        report.fail("project memo", "is not the export's project description")
    else:
        report.say("project memo", f"the project description ({len(memo)} characters)")


OWNED = ("source", "code_text", "attribute", "attribute_type", "annotation", "journal")


def check_coders(export: Export, db: dict, seen: Seen, report: Report) -> None:
    """QualCoder keeps no users: its coders are the `owner`s of rows, gathered in coder_names."""
    report.say("coders", f"the export's users: {', '.join(export.users.values())}")
    for table in (*OWNED, "code_name", "code_cat"):
        if db[table]:
            owners = Counter(repr(row["owner"]) for row in db[table])
            report.say("coders", f"owner in {table}: {counted(owners)}")
    report.say(
        "coders",
        f"QualCoder's list (get_coder_names_in_project): {', '.join(map(repr, seen.coders))}",
    )
    owners = {row["owner"] for table in OWNED for row in db[table]}
    strangers = sorted(owners - set(export.users.values()))
    if strangers:
        report.say("coders", f"owners that are no user of the export: {', '.join(strangers)}")
    report.say("coders", f"QualCoder's current coder after the import: {seen.codername}")


def import_log(action_log: str) -> list[str]:
    """The lines QualCoder's importer wrote to its action log, up to its closing "... loaded."."""
    start = action_log.find(ROUTINE_LOG[0])
    lines = action_log[start:].splitlines() if start >= 0 else []
    end = next((i for i, line in enumerate(lines) if line.endswith(" loaded.")), len(lines))
    return lines[:end]


def warnings_of(seen: Seen) -> list[str]:
    """What QualCoder reported beyond its routine messages, repeated kinds counted once."""
    odd = [line for line in import_log(seen.action_log) if not line.startswith(ROUTINE_LOG)]
    kinds = Counter(line.split(" cid:")[0] for line in odd if line.strip())
    found = [f"action log: {text} (x{n})" for text, n in kinds.items()]
    found += [f"dialog {t!r}: {x[:200]}" for t, x in seen.dialogs if t not in ROUTINE_DIALOGS]
    found += [f"log: {line}" for line in dict.fromkeys(seen.log)]
    found += [f"printed: {line}" for line in dict.fromkeys(seen.printed.splitlines()) if line]
    return found


def compare(export: Export, db: dict, seen: Seen) -> Report:
    report = Report()
    report.head("QualCoder's database against the export")
    check_sources(export, db, report)
    check_codings(export, db, report)
    check_codes(export, db, seen.palette, report)
    check_variables(export, db, report)
    check_notes(export, db, report)
    check_project(export, db, report)
    check_coders(export, db, seen, report)
    report.head("What QualCoder reported")
    for line in warnings_of(seen) or ["nothing beyond its routine messages"]:
        report.say("warning", line)
    return report


# --- the re-export, read back -----------------------------------------------------------


def check_reexport(export: Export, again: Export, report: Report) -> None:
    report.head("QualCoder's re-export against the export")
    report.say("users", ", ".join(again.users.values()))
    boms = sum(s.bom for s in again.sources)
    texts = {s.name: s.text for s in export.sources}
    same = sum(texts.get(s.name) == s.text for s in again.sources)
    report.say("sources", f"{len(again.sources)}, texts identical {same}, with a BOM {boms}")
    if same != len(export.sources):
        report.fail("sources", f"{len(export.sources) - same} texts differ or are missing")
    lost = Counter(c.key for c in export.codings) - Counter(c.key for c in again.codings)
    added = Counter(c.key for c in again.codings) - Counter(c.key for c in export.codings)
    report.say("codings", f"{len(again.codings)}; lost {sum(lost.values())}, new {len(added)}")
    if lost or added:
        report.fail("codings", "differ from the export's: " + show(next(iter(lost or added))))
    values = sum(len(s.values) for s in again.sources)
    report.say("variables", f"{', '.join(again.variables)}; {values} values")
    report.say(
        "notes", f"{len(again.notes)}; project description kept: {again.memo == export.memo}"
    )


def autocode_records(command: list[str], qdpx: Path, coder: str, out: Path) -> dict | str:
    """`autocode import` of one coder into `out`, then `autocode parse --ads out/../ads` (the
    export's texts): the records by ad, or the error."""
    argv = [*command, "import", str(qdpx), "--out", str(out), "--coder", coder]
    env = {**os.environ, "HOME": HOME}
    run = subprocess.run(argv, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        return " / ".join((run.stderr or run.stdout).strip().splitlines()[-2:])
    files = sorted(out.glob("*.md"))
    if not files:
        return {}
    argv = [*command, "parse", *map(str, files), "--ads", str(out.parent / "ads")]
    parsed = subprocess.run(argv, capture_output=True, text=True, env=env)
    if parsed.returncode != 0:
        return f"autocode parse: {parsed.stderr.strip().splitlines()[-1]}"
    records = [json.loads(line) for line in parsed.stdout.splitlines() if line.strip()]
    return {r["ad_id"]: r for r in records}


def essentials(record: dict) -> dict:
    """What a coding says: quotes by their place in the ad (span), tools, profile, reasoning."""

    def place(quote: dict):
        return tuple(quote["span"]) if quote.get("span") else quote["text"]

    return {
        "quotes": sorted((q["category"], place(q), q.get("note") or "") for q in record["quotes"]),
        "tools": sorted((t["category"], t["name"], t.get("note") or "") for t in record["tools"]),
        "profile": record.get("profile"),
        "reasoning": record.get("reasoning"),
    }


def wording(record: dict) -> list:
    return sorted((q["category"], q["text"]) for q in record["quotes"])


def difference(old, new) -> str:
    """How a record's part changed: its value, or for a list how many items and one example."""
    if not isinstance(old, list):
        return f"{brief(old)} -> {brief(new)}"
    gone, came = Counter(old) - Counter(new), Counter(new) - Counter(old)
    text = f"{sum(gone.values())} changed"
    if gone:
        text += f", e.g. {brief(next(iter(gone)))}"
    if came:
        text += f" -> {brief(next(iter(came)))}"
    return text


def brief(value, width: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 4] + "...'"


def tally(records: dict) -> str:
    quotes = sum(len(r["quotes"]) for r in records.values())
    tools = sum(len(r["tools"]) for r in records.values())
    profiles = sum(bool(r.get("profile")) for r in records.values())
    reasons = sum(bool(r.get("reasoning")) for r in records.values())
    parts = f"{quotes} quotes, {tools} tools, {profiles} profiles, {reasons} reasonings"
    return f"{len(records)} ads, {parts}"


def compare_records(coder: str, before: dict, after: dict, report: Report) -> None:
    report.say(coder, f"export: {tally(before)}")
    report.say(coder, f"re-export: {tally(after)}")
    reworded: list[str] = []
    for ad in sorted(set(before) | set(after)):
        old, new = before.get(ad), after.get(ad)
        if old is None or new is None:
            report.fail(coder, f"{ad} only in the {'re-export' if old is None else 'export'}")
            continue
        old_parts, new_parts = essentials(old), essentials(new)
        for part in old_parts:
            if old_parts[part] != new_parts[part]:
                report.fail(coder, f"{ad} {part}: {difference(old_parts[part], new_parts[part])}")
        if old_parts["quotes"] == new_parts["quotes"]:
            gone = Counter(wording(old)) - Counter(wording(new))
            reworded += [f"{ad} {brief(text, 50)}" for _, text in gone.elements()]
    if reworded:
        text = (
            f"{len(reworded)} quotes at the same place, worded as the passage: {some(reworded, 2)}"
        )
        report.say(coder, text)


def check_round_trip(command: list[str], export: Export, files: tuple, work: Path, report) -> None:
    """Both files through `autocode import`, coder by coder, and the codings compared."""
    report.head("autocode import: the export against QualCoder's re-export, per coder")
    (work / "ads").mkdir()
    for source in export.sources:
        with open(work / "ads" / f"{source.name}.txt", "w", encoding="utf-8", newline="") as ad:
            ad.write(source.text)
    for coder in export.users.values():
        before = autocode_records(command, files[0], coder, work / f"export-{coder}")
        after = autocode_records(command, files[1], coder, work / f"reexport-{coder}")
        for file, result in zip(files, (before, after), strict=True):
            if isinstance(result, str):
                report.fail(coder, f"autocode import {file.name}: {result}")
        if not isinstance(before, str) and not isinstance(after, str):
            compare_records(coder, before, after, report)


# --- the command ------------------------------------------------------------------------


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("qdpx", type=Path, help="an autocode export (.qdpx)")
    parser.add_argument(
        "--qualcoder",
        type=Path,
        default=os.environ.get("QUALCODER_SRC"),
        help="QualCoder's source tree (default: $QUALCODER_SRC)",
    )
    parser.add_argument("--reexport", type=Path, help="write QualCoder's own export here")
    parser.add_argument(
        "--autocode",
        default=os.environ.get("AUTOCODE"),
        help="command that runs autocode, e.g. .venv/bin/autocode (with --reexport: "
        "`autocode import` both files per coder and compare the codings; default: $AUTOCODE)",
    )
    parser.add_argument("--keep", type=Path, help="keep QualCoder's project in this new folder")
    args = parser.parse_args(argv)
    if args.qualcoder is None or not (args.qualcoder / "src" / "qualcoder").is_dir():
        parser.error("give QualCoder's source tree: --qualcoder DIR or QUALCODER_SRC")
    if not args.qdpx.is_file():
        parser.error(f"no such file: {args.qdpx}")
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep} exists")
    return args


def check(args: argparse.Namespace, work: Path) -> Report:
    export = read_export(args.qdpx)
    database, seen = run_qualcoder(args.qualcoder, args.qdpx.resolve(), work, args.reexport)
    report = compare(export, read_database(database), seen)
    if args.reexport is not None:
        check_reexport(export, read_export(args.reexport), report)
        if args.autocode:
            files = (args.qdpx, args.reexport)
            check_round_trip(shlex.split(args.autocode), export, files, work, report)
    return report


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    work = Path(tempfile.mkdtemp(prefix="qualcoder-check-"))
    try:
        report = check(args, work)
    finally:
        if args.keep is not None:
            shutil.copytree(work, args.keep)
        shutil.rmtree(work, ignore_errors=True)
    print(f"QualCoder ({args.qualcoder}) on {args.qdpx}")
    print(report.text())
    print(f"{report.failures} mismatch(es)" if report.failures else "no mismatch")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
