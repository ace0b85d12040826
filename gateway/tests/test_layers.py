"""The imports run one way (docs/architecture.md):

    python -m gpuchat → commands, main → api → state → services → engines, db, loadtest
    → openai, schemas → core

A module may import its own package and any layer below its own, never one above or beside
it; and no two modules import each other, however indirectly. Read from the source (every
import, also those inside functions), so a wrong import fails here, not at start-up.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import gpuchat

SOURCE = Path(gpuchat.__file__).parent

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__main__"}),
    frozenset({"commands", "main"}),
    frozenset({"api"}),
    frozenset({"state"}),
    frozenset({"services"}),
    frozenset({"engines", "db", "loadtest"}),
    frozenset({"openai", "schemas"}),
    frozenset({"core"}),
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in SOURCE.rglob("*.py"):
        parts = ("gpuchat", *path.relative_to(SOURCE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, bool]]:
    """(module imported, only for type checking) for every gpuchat import in the file."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name in modules:
                yield name, id(node) in typing_only


def _layer(module: str) -> int:
    package = module.split(".")[1] if "." in module else ""
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def test_every_package_has_its_layer() -> None:
    for module in _modules():
        if module != "gpuchat":
            _layer(module)  # StopIteration: a new package nobody placed in LAYERS


def test_imports_point_down_the_layers() -> None:
    modules = _modules()
    for module, path in modules.items():
        if module == "gpuchat":
            continue
        for imported, _ in _imports(path, modules):  # also those only for type checking
            if imported == "gpuchat" or imported.split(".")[1] == module.split(".")[1]:
                continue  # its own package
            assert _layer(imported) > _layer(module), (
                f"{module} imports {imported}: a layer above or beside it"
            )


def test_no_two_modules_import_each_other() -> None:
    modules = _modules()
    graph = {
        module: {imported for imported, typing_only in _imports(path, modules) if not typing_only}
        - {module}
        for module, path in modules.items()
    }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as cycle:
        raise AssertionError(f"an import cycle: {' -> '.join(cycle.args[1])}") from None
