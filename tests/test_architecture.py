"""The layout the project keeps: command glue only in pipeline/cli/, pure stages free of
click and of the network, tests independent of the benchmarks, short functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pipeline"
PURE = [
    "codebook",
    "record",
    "grounding",
    "goldmd",
    "evaluate",
    "matching",
    "calibration",
    "prompt",
    "stats",
    "stats_tables",
    "stats_tools",
    "stats_report",
    "stats_charts",
    "consensus",
    "agree",
    "uncertainty",
]
NETWORK = {"openai", "instructor", "httpx", "requests", "urllib.request", "http.client"}
NETWORK_MODULES = {"pipeline.llm.client", "pipeline.llm.embedded", "pipeline.batch.api"}
MAX_FUNCTION_LINES = 60


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


def closure(start: str) -> set[str]:
    """Everything `start` imports, following the package's own modules."""
    seen, todo = set(), [start]
    while todo:
        for imported in GRAPH.get(todo.pop(), ()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def is_or_under(name: str, roots: set[str]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def test_only_the_command_package_imports_click():
    outside = [n for n in MODULES if not n.startswith("pipeline.cli")]
    assert [n for n in outside if is_or_under_any(GRAPH[n], {"click"})] == []


def is_or_under_any(names: set[str], roots: set[str]) -> bool:
    return any(is_or_under(name, roots) for name in names)


@pytest.mark.parametrize("stage", PURE)
def test_pure_stages_import_neither_click_nor_the_network(stage):
    reached = closure(f"pipeline.{stage}")
    assert not is_or_under_any(reached, {"click"} | NETWORK | NETWORK_MODULES), sorted(
        n for n in reached if is_or_under(n, {"click"} | NETWORK | NETWORK_MODULES)
    )


def test_the_contract_would_see_a_violation():
    # the check follows imports through the package: the LLM layer reaches the network
    assert is_or_under_any(closure("pipeline.coding.run"), NETWORK)


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
