"""The layout the project keeps (docs/ARCHITECTURE.md): a subpackage per family whose
dependencies run one way, no import cycle, command glue only in pipeline/cli/, the network
only in the LLM layer, tests independent of the benchmarks, short functions."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pipeline"
MAX_FUNCTION_LINES = 60
MAX_ROOT_MODULES = 15

# What each family may import besides itself. "core" is the modules at the package's root.
# Everything a family may reach is below it here, so the families cannot import in a circle.
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "goldmd": {"core"},
    "codings": {"core", "goldmd"},
    "llm": {"core"},
    "coding": {"core", "goldmd", "codings", "llm"},
    "batch": {"core", "goldmd", "codings", "llm", "coding"},
    "evaluation": {"core", "goldmd", "codings"},
    "stats": {"core", "goldmd", "codings"},
    "review": {"core", "goldmd", "codings"},
    "tables": {"core", "goldmd", "codings"},
    # the REFI-QDA export streams the ads and coding sets as the tables do
    "qdpx": {"core", "goldmd", "codings", "tables"},
    "cli": {"core", "goldmd", "codings", "llm", "coding", "batch", "evaluation", "stats"}
    | {"review", "qdpx", "tables"},
}
NETWORK = {"openai", "instructor", "httpx", "requests", "urllib.request", "http.client"}
# Where the network may be spoken to: the LLM layer and batch mode (the Batch API client; a
# Batch result is read back as the openai SDK's completion).
NETWORK_USERS = {"llm", "batch"}
# The one server autocode runs: the editor of `review --serve` (loopback, token, guards).
SERVERS = {"starlette", "uvicorn"}
SERVER_MODULES = {"review.server", "review.serve"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def family(module: str) -> str:
    """`pipeline.coding.run` -> "coding"; a module at the root (or the root) -> "core"."""
    parts = module.split(".")
    is_package = len(parts) > 1 and (PACKAGE / parts[1]).is_dir()
    return parts[1] if is_package else "core"


def own_imports(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph restricted to the package's own modules (an imported name that is a
    function, not a module, is dropped, and so is a package naming its own submodules)."""
    return {name: {i for i in imported if i in graph} - {name} for name, imported in graph.items()}


def rule_breaks(graph: dict[str, set[str]]) -> list[str]:
    breaks = []
    for name, imported in own_imports(graph).items():
        allowed = MAY_IMPORT[family(name)] | {family(name)}
        breaks += [f"{name} -> {i}" for i in sorted(imported) if family(i) not in allowed]
    return breaks


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(TopologicalSorter(own_imports(graph)).static_order())
    except CycleError as exc:
        return exc.args[1]
    return None


def is_or_under(name: str, roots: set[str]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def test_every_family_is_a_subpackage_with_a_rule():
    families = {family(name) for name in MODULES}
    assert families == set(MAY_IMPORT)


def test_the_package_root_holds_at_most_15_modules():
    assert len(list(PACKAGE.glob("*.py"))) <= MAX_ROOT_MODULES


def test_families_import_only_what_their_rule_allows():
    assert rule_breaks(GRAPH) == []


def test_the_rules_would_see_a_break():
    # the evaluation reaching the LLM layer, as a coding run may
    broken = {**GRAPH, "pipeline.evaluation.scores": {"pipeline.coding.run"}}
    assert rule_breaks(broken) == ["pipeline.evaluation.scores -> pipeline.coding.run"]


def test_the_import_graph_has_no_cycle():
    assert cycle_in(GRAPH) is None


def test_the_cycle_check_would_see_a_cycle():
    looped = {**GRAPH, "pipeline.record": GRAPH["pipeline.record"] | {"pipeline.codebook"}}
    looped["pipeline.codebook"] = looped["pipeline.codebook"] | {"pipeline.record"}
    assert cycle_in(looped) is not None


def test_nothing_imports_the_command_package():
    users = [
        n for n in MODULES if family(n) != "cli" and is_or_under_any(GRAPH[n], {"pipeline.cli"})
    ]
    assert users == []


def test_only_the_command_package_imports_click():
    outside = [n for n in MODULES if family(n) != "cli"]
    assert [n for n in outside if is_or_under_any(GRAPH[n], {"click"})] == []


def is_or_under_any(names: set[str], roots: set[str]) -> bool:
    return any(is_or_under(name, roots) for name in names)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_llm_layer_speaks_to_the_network(name):
    speaks = is_or_under_any(GRAPH[name], NETWORK)
    assert not speaks or is_or_under(name.removeprefix("pipeline."), NETWORK_USERS), name


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_only_the_editor_serves(name):
    serves = is_or_under_any(GRAPH[name], SERVERS)
    assert not serves or name.removeprefix("pipeline.") in SERVER_MODULES, name


def test_the_editor_does_serve():
    assert is_or_under_any(GRAPH["pipeline.review.server"], SERVERS)


def test_the_llm_layer_does_speak_to_the_network():
    assert is_or_under_any(GRAPH["pipeline.llm.client"], NETWORK)


def test_tests_import_nothing_from_the_benchmarks():
    users = [
        p.name for p in (REPO / "tests").rglob("*.py") if is_or_under_any(imports_of(p), {"bench"})
    ]
    assert users == []


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES  # from `def`: decorators aside
    ]


def test_no_function_in_the_package_is_longer_than_60_lines():
    assert [f for path in sorted(PACKAGE.rglob("*.py")) for f in long_functions(path)] == []
