"""The layout the architecture notes describe, checked: layers, the import direction, no cycles,
sizes.

Each folder of ``profiler/`` is a layer; a module's layer is its folder's, so a new module needs no
entry here. Read from the source with ``ast``, so nothing is imported and function-level imports
count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A module may import its own layer or a lower one, never a higher one
# (ARCHITECTURE.md explains each folder). Folders on one line share a layer.
FOLDER_LAYERS: tuple[tuple[str, ...], ...] = (
    ("base",),
    ("system",),
    ("data",),
    ("strategy", "ceiling"),
    ("results",),
    ("worker",),
    ("analysis",),
    ("measuring",),
    ("drivers",),
    ("reporters",),
    ("commands",),
)
LAYER_OF = {folder: number for number, folders in enumerate(FOLDER_LAYERS) for folder in folders}
# The ways in that sit at the top of the package, beside the folders.
WAYS_IN = {"__main__", "pytest_plugin"}
TOP = len(FOLDER_LAYERS)
# The plugin API: the one path strategies import from.
PLUGIN_API = "profiler.strategy"
# A ratchet: no module or function may grow past the largest of them when it was set
# (analysis/recommend.py, and data/user_index.py's choose and measuring/runner.py's run, formatted
# at 100 columns). Lower these when the largest shrink; never raise them.
MAX_MODULE_LINES = 364
MAX_FUNCTION_LINES = 64
# One name in these folders is one feature: its command, its rendering and its library call.
SHARED_NAME_FOLDERS = {"commands", "reporters", "drivers"}


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file, absolute."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(module: str) -> int | None:
    """The layer of a profiler module: its folder's, or the top for the ways in beside them."""
    parts = module.split(".")
    if parts[0] != "profiler" or len(parts) < 2:
        return None
    if parts[1] in WAYS_IN:
        return TOP
    return LAYER_OF.get(parts[1])


PROFILER = _modules("profiler")
SCENARIOS = _modules("scenarios")


def test_every_profiler_module_sits_in_a_layer_folder():
    missing = [name for name in PROFILER if name != "profiler" and _layer(name) is None]
    assert not missing, f"move these modules into a layer folder (FOLDER_LAYERS): {missing}"


def test_every_folder_is_a_layer_that_the_architecture_notes_explain():
    folders = {p.name for p in (ROOT / "profiler").iterdir() if (p / "__init__.py").exists()}
    assert folders == set(LAYER_OF), "each folder of profiler/ is a layer: list it in FOLDER_LAYERS"
    notes = (ROOT / "ARCHITECTURE.md").read_text()
    unexplained = [folder for folder in sorted(folders) if f"`{folder}/`" not in notes]
    assert not unexplained, f"ARCHITECTURE.md's table lacks {unexplained}"


@pytest.mark.parametrize("module", [name for name in PROFILER if name != "profiler"])
def test_the_core_never_imports_a_strategy_nor_a_higher_layer(module):
    own = _layer(module)
    for imported in _imports(PROFILER[module]):
        assert imported.split(".")[0] != "scenarios", (
            f"{module} imports {imported}: the core finds strategies through "
            "profiler.strategy.registry, never by name"
        )
        layer = _layer(imported)
        assert layer is None or layer <= own, (
            f"{module} (layer {own}) imports {imported} (layer {layer})"
        )


@pytest.mark.parametrize("module", list(SCENARIOS))
def test_strategies_import_the_core_only_through_the_plugin_api(module):
    for imported in _imports(SCENARIOS[module]):
        if imported.split(".")[0] == "profiler":
            assert imported == PLUGIN_API or imported.startswith(PLUGIN_API + "."), (
                f"{module} imports {imported}: a strategy imports the core from {PLUGIN_API} only"
            )


def test_no_two_modules_share_a_name_unless_their_folders_tell_them_apart():
    by_name: dict[str, list[Path]] = {}
    for path in [*PROFILER.values(), *SCENARIOS.values()]:
        if path.name != "__init__.py":
            by_name.setdefault(path.name, []).append(path)
    for name, paths in by_name.items():
        folders = [path.parent.name for path in paths]
        assert len(paths) == 1 or (
            set(folders) <= SHARED_NAME_FOLDERS and len(set(folders)) == len(folders)
        ), f"{name} in {folders}: give each a name that says what it holds"


def test_no_import_cycle():
    modules = {**PROFILER, **SCENARIOS}
    graph = {
        name: {i for i in _imports(path) if i in modules and i != name}
        for name, path in modules.items()
    }
    # A package's __init__ importing its own submodules is how a package is assembled, not a cycle.
    for name in graph:
        graph[name] = {i for i in graph[name] if not i.startswith(name + ".")}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            pytest.fail(f"import cycle: {' -> '.join([*path[path.index(name) :], name])}")
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


@pytest.mark.parametrize(
    "path", [*PROFILER.values(), *SCENARIOS.values()], ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_module_or_function_grows_past_the_ratchet(path):
    text = path.read_text()
    lines = len(text.splitlines())
    assert lines <= MAX_MODULE_LINES, (
        f"{path.name} has {lines} lines: split it where its meaning splits"
    )
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, (
                f"{path.name}:{node.lineno} {node.name} has {length} lines: split it where its "
                "meaning splits"
            )
