"""The package's import graph (docs/architecture.md): no cycle, and no module imports one of a higher layer.

Every import counts, the lazy ones inside functions too (``TYPE_CHECKING`` blocks are for type checkers only and
are left out). ``python tests/unit/test_architecture.py`` prints the graph, layer by layer.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "docker_credential_imgpkg"
ROOT = Path(__file__).resolve().parents[2] / "helper" / PACKAGE

# Top first. A module may import its own layer's modules (acyclically) and any lower layer's, never a higher one.
LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("commands", "commands.*"),
    ("chain",),
    ("sources", "sources.*"),
    ("backends", "backends.*"),
    ("client",),
    ("settings", "paths", "authfile", "kubelet_rules", "debug"),
    ("protocol", "address", "safe_files", "stdio", "variables"),
    ("errors", ""),  # "" is the package itself (__init__: the program's name and version)
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    for rank, patterns in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return rank
    raise AssertionError(f"{module or PACKAGE} is in no layer of tests/unit/test_architecture.py")


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The package modules an ``from ... import ...`` names (a name may be a submodule)."""
    if node.level == 0:
        if not (node.module or "").startswith(PACKAGE):
            return []
        base = (node.module or "")[len(PACKAGE) :].lstrip(".")
    else:
        parts = module.split(".") if module else []
        if not is_package:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
        base = ".".join([*parts, *([node.module] if node.module else [])])
    found = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}" if base else alias.name
        found.append(candidate if _exists(candidate) else base)
    return found


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports_of(path: Path) -> set[str]:
    module = module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                pending.extend(getattr(child, "orelse", []))
                continue
            if isinstance(child, ast.ImportFrom):
                found.update(_resolve(module, path.name == "__init__.py", child))
            elif isinstance(child, ast.Import):
                found.update(a.name[len(PACKAGE) :].lstrip(".") for a in child.names if a.name.startswith(PACKAGE))
            pending.append(child)
    found.discard(module)
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in sorted(ROOT.rglob("*.py"))}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    for start in sorted(edges):
        if state.get(start):
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(edges[start]))]
        state[start] = 1
        path = [start]
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            nxt = todo.pop()
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(edges.get(nxt, ()))))
    return None


def test_every_module_is_in_a_layer() -> None:
    for module in graph():
        layer_of(module)


def test_no_import_goes_up_a_layer() -> None:
    upward = [
        f"{module or PACKAGE} ({layer_of(module)}) imports {target or PACKAGE} ({layer_of(target)})"
        for module, targets in graph().items()
        for target in targets
        if layer_of(target) < layer_of(module)
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    assert _cycle(graph()) is None


def test_nothing_imports_cli() -> None:
    assert [m for m, targets in graph().items() if "cli" in targets] == []


def test_only_the_client_runs_other_programs() -> None:
    """One home for calling docker-credential-* programs: nothing else spawns a process."""
    spawners = [
        module_name(path)
        for path in ROOT.rglob("*.py")
        if any(word in path.read_text() for word in ("posix_spawn(", "subprocess", "os.execv(", "os.fork("))
    ]
    assert sorted(spawners) == ["cli", "client"]  # cli: the one re-execution of itself (``_isolate``)


if __name__ == "__main__":
    edges = graph()
    for rank in range(len(LAYERS)):
        members = sorted(m for m in edges if layer_of(m) == rank)
        print(f"layer {rank}: " + ", ".join(m or PACKAGE for m in members))
        for member in members:
            below = sorted(t or PACKAGE for t in edges[member])
            print(f"    {member or PACKAGE} -> {', '.join(below) if below else '(nothing)'}")
    sys.exit(0)
