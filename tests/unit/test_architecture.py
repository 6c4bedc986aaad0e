"""The layout the architecture notes describe, checked: layers, the import direction, no cycles, sizes.

Read from the source with ``ast``, so nothing is imported and function-level imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A module may import its own layer or a lower one, never a higher one
# (ARCHITECTURE.md explains each layer).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("units", "errors", "codec", "settings", "metadata", "memory", "stats", "isolation", "lifeline", "stopping",
     "scratch", "confine", "decode", "records", "pagecache", "userscan", "pipesource"),
    ("data", "fingerprint", "datacache", "userindex", "userdata"),
    ("scenario", "pipeline", "registry", "decoders", "stages", "ceiling", "results"),
    ("measure", "consumer", "worker"),
    ("fits", "forecast", "recommend", "sweep", "compare", "storage", "tuned", "scaled"),
    ("session", "procedure", "metrics", "runner"),
    ("measure_run", "tune", "scale"),
    ("reporters",),
    ("commands", "pytest_plugin", "__main__"),
)
LAYER_OF = {name: number for number, names in enumerate(LAYERS) for name in names}
# The strategies sit beside the core and may use only the layers a pipeline is built from.
SCENARIO_LAYER = LAYER_OF["results"]
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 50


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
    """The layer of a profiler module, by its first component below ``profiler``."""
    parts = module.split(".")
    if parts[0] != "profiler" or len(parts) < 2:
        return None
    return LAYER_OF.get(parts[1])


PROFILER = _modules("profiler")
SCENARIOS = _modules("scenarios")


def test_every_profiler_module_has_a_layer():
    missing = [name for name in PROFILER if name != "profiler" and _layer(name) is None]
    assert not missing, f"add these modules to a layer in LAYERS and ARCHITECTURE.md: {missing}"


@pytest.mark.parametrize("module", [name for name in PROFILER if name != "profiler"])
def test_the_core_never_imports_a_strategy_nor_a_higher_layer(module):
    own = _layer(module)
    for imported in _imports(PROFILER[module]):
        assert imported.split(".")[0] != "scenarios", f"{module} imports {imported}: the core finds strategies " \
            "through profiler.registry, never by name"
        layer = _layer(imported)
        assert layer is None or layer <= own, f"{module} (layer {own}) imports {imported} (layer {layer})"


@pytest.mark.parametrize("module", list(SCENARIOS))
def test_strategies_use_only_the_layers_a_pipeline_is_built_from(module):
    for imported in _imports(SCENARIOS[module]):
        layer = _layer(imported)
        assert layer is None or layer <= SCENARIO_LAYER, f"{module} imports {imported}"


def test_no_import_cycle():
    modules = {**PROFILER, **SCENARIOS}
    graph = {name: {i for i in _imports(path) if i in modules and i != name} for name, path in modules.items()}
    # A package's __init__ importing its own submodules is how a package is assembled, not a cycle.
    for name in graph:
        graph[name] = {i for i in graph[name] if not i.startswith(name + ".")}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            pytest.fail(f"import cycle: {' -> '.join([*path[path.index(name):], name])}")
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


@pytest.mark.parametrize("path", [*PROFILER.values(), *SCENARIOS.values()], ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: split it by concern"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path.name}:{node.lineno} {node.name} has {length} lines"
