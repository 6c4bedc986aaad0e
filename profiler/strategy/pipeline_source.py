"""Where a ``package.module:function`` lives, found without importing it.

The parent process must not import TensorFlow, and a user's module usually does; yet a module a
worker cannot import, or a function it does not define, should be refused in one line before
anything is prepared or measured. So the module is located on this process's path (a worker is
spawned with the same path) file by file, and its source parsed, never run.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import re
import sys
from pathlib import Path

from profiler.base.errors import ProfilerError

_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")
_FIX = "run from the folder that holds it, or add that folder to PYTHONPATH"


class PipelineNotImportable(ProfilerError):
    """The pipeline function cannot be found by name in a fresh process."""


def locate(reference: str) -> Path | None:
    """The ``.py`` file of the module of ``reference``; None where it is importable some other way
    (a compiled module, a zip) and only a worker can tell. PipelineNotImportable where it is not
    there."""
    module = reference.partition(":")[0]
    if not _NAME.match(module):
        raise PipelineNotImportable(
            f"'{module}' in --pipeline {reference} is not a module name: write it as "
            "package.module:function, with dots, not slashes"
        )
    if module in sys.modules:  # imported already (os.path, say): importable, whatever its form
        return _source_file(getattr(sys.modules[module], "__file__", None))
    parts = module.split(".")
    try:
        top = importlib.util.find_spec(parts[0])  # a top-level name: found, not imported
    except (ImportError, ValueError):
        top = None
    if top is None:
        raise _missing(reference, module)
    if len(parts) == 1:
        return _source_file(top.origin)
    folders = [Path(folder) for folder in top.submodule_search_locations or []]
    if not folders:
        if top.origin in ("frozen", "built-in") or (top.origin and Path(top.origin).is_file()):
            raise _missing(reference, module, f"'{parts[0]}' is a module, not a package")
        return None
    for part in parts[1:-1]:
        folders = [folder / part for folder in folders if (folder / part).is_dir()]
    for folder in folders:
        for candidate in (folder / f"{parts[-1]}.py", folder / parts[-1] / "__init__.py"):
            if candidate.is_file():
                return candidate
        if (folder / parts[-1]).is_dir() or any(folder.glob(f"{parts[-1]}.*.so")):
            return None  # a namespace package or a compiled module
    raise _missing(reference, module)


def _source_file(origin: str | None) -> Path | None:
    return Path(origin) if origin and origin.endswith(".py") and Path(origin).is_file() else None


def _missing(reference: str, module: str, why: str = "") -> PipelineNotImportable:
    hint = ""
    if module.endswith(".py"):
        hint = f" (to name the file {module}, write the module's name: {module[:-3]}:...)"
    reason = f" ({why})" if why else ""
    return PipelineNotImportable(
        f"cannot import module '{module}' of --pipeline {reference} from {Path.cwd()}"
        f"{reason}{hint}: {_FIX}"
    )


def parsed(reference: str) -> tuple[Path, ast.Module] | None:
    """The module's file and syntax tree; None where there is no source to read. A module that does
    not parse is refused: a worker would fail on it too."""
    source = locate(reference)
    if source is None:
        return None
    try:
        return source, ast.parse(source.read_bytes(), filename=str(source))
    except SyntaxError as error:
        module = reference.partition(":")[0]
        raise PipelineNotImportable(
            f"cannot read module '{module}' of --pipeline {reference}: {error.msg} ({source.name}, "
            f"line {error.lineno}): fix it and run again"
        ) from None
    except (OSError, ValueError):
        return None


def check_pipeline(reference: str) -> None:
    """Refuse, before anything runs, a pipeline whose module a worker could not import or which does
    not define the function named."""
    module, _, attribute = reference.partition(":")
    if not _NAME.match(attribute):
        raise PipelineNotImportable(
            f"'{attribute}' in --pipeline {reference} is not a function name: write "
            "package.module:function"
        )
    found = parsed(reference)
    if found is None:
        return
    source, tree = found
    names = top_level_names(tree)
    first = attribute.split(".")[0]
    if names is not None and first not in names:
        close = difflib.get_close_matches(first, sorted(names), n=1)
        suggestion = f" (did you mean {module}:{close[0]}?)" if close else ""
        raise PipelineNotImportable(
            f"module '{module}' ({source}) defines no '{first}' for --pipeline "
            f"{reference}{suggestion}: name a function defined at its top level"
        )
    value = _literal_value(tree, first) if attribute == first else None
    if value is not None:
        raise PipelineNotImportable(
            f"'{first}' in module '{module}' ({source}) is a constant of type {value}, not a "
            f"function, for --pipeline {reference}: name a function defined at its top level"
        )


def _literal_value(tree: ast.Module, name: str) -> str | None:
    """The type of the constant ``name`` is bound to last (``NAME = 3``), where nothing else can
    bind it (no def, import or conditional block naming it after); None otherwise."""
    last: ast.stmt | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                last = node
                continue
        bound = top_level_names(ast.Module(body=[node], type_ignores=[]))
        if bound is None or name in bound:
            last = None
    if last is None:
        return None
    try:
        return type(ast.literal_eval(last.value)).__name__  # type: ignore[union-attr, arg-type]
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


# Module-level code that can bind names no statement shows: only running the module would tell.
_DYNAMIC_CALLS = {"globals", "vars", "exec", "eval", "setattr", "__import__"}


def top_level_names(tree: ast.Module) -> set[str] | None:
    """Names a module binds at its top level (in conditional blocks too); None where it cannot be
    known without running it (a star import, a module-level __getattr__, globals() or exec, a
    match)."""
    names: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Match):
            return None
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for inner in _module_level_nodes(node):
                if isinstance(inner, ast.NamedExpr) and isinstance(inner.target, ast.Name):
                    names.add(inner.target.id)
                if isinstance(inner, ast.Name) and inner.id in _DYNAMIC_CALLS:
                    return None
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            if node.name == "__getattr__":
                return None
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(
            node,
            ast.Assign
            | ast.AnnAssign
            | ast.AugAssign
            | ast.For
            | ast.AsyncFor
            | ast.With
            | ast.AsyncWith,
        ):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [
                    getattr(node, "target", None),
                    *(item.optional_vars for item in getattr(node, "items", [])),
                ]
            )
            names.update(
                n.id
                for t in targets
                if t is not None
                for n in ast.walk(t)
                if isinstance(n, ast.Name)
            )
        for field in ("body", "orelse", "finalbody", "handlers"):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                pending.extend(getattr(node, field, []) or [])
    return names


def _module_level_nodes(node: ast.AST) -> list[ast.AST]:
    """The expressions of one statement, without descending into nested statements, functions or
    lambdas (those are walked as statements of their own, or run later)."""
    found: list[ast.AST] = []
    pending = [child for child in ast.iter_child_nodes(node) if not isinstance(child, ast.stmt)]
    while pending:
        child = pending.pop()
        found.append(child)
        if not isinstance(child, ast.Lambda | ast.stmt):
            pending.extend(ast.iter_child_nodes(child))
    return found
