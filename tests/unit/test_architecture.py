"""The package's shape (docs/architecture.md): small files, and no import cycle between its modules."""

from __future__ import annotations

import ast
from pathlib import Path

EDGE = Path(__file__).resolve().parents[2] / "edge"
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(EDGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_at_load(path: Path, known: set[str]) -> set[str]:
    """The edge modules `path` imports when it is loaded: top-level imports, not those under TYPE_CHECKING or
    inside functions (those run later, when every module is loaded)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ():
            if isinstance(sub, ast.Import):
                names = [a.name for a in sub.names]
            elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                names = [sub.module] + [f"{sub.module}.{a.name}" for a in sub.names]
            else:
                continue
            found |= {n for n in names if n in known}
    return found


def test_no_file_in_edge_is_longer_than_450_lines():
    lines = {str(p.relative_to(EDGE)): len(p.read_text().splitlines()) for p in EDGE.rglob("*.py")}
    assert {name: n for name, n in lines.items() if n > MAX_LINES} == {}


def test_no_import_cycle_between_edge_modules():
    paths = {module_name(p): p for p in EDGE.rglob("*.py")}
    graph = {name: imports_at_load(path, set(paths)) - {name} for name, path in paths.items()}
    cycles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif state[nxt] == 0:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if state[name] == 0:
            visit(name, [name])
    assert cycles == []
