"""A user's own pipeline, measured like a scenario: a function named ``package.module:function``.

The function returns a ``tf.data.Dataset`` (each element a batch of (inputs, labels)), or a pair
(generator function, output_signature) that is fed through ``Dataset.from_generator``. It runs in
the worker process, so it must be importable there by name: a module-level function, not a
lambda, a nested function or something defined in ``__main__``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from profiler.errors import ProfilerError
from profiler.scenario import PipelineContext, Scenario


class PipelineNotImportable(ProfilerError):
    """The pipeline function cannot be found by name in a fresh process."""


def reference_of(function: Callable[..., Any] | str) -> str:
    """``module:function`` for a function the worker can import by name; refuse anything else."""
    if isinstance(function, str):
        if ":" not in function:
            raise PipelineNotImportable(
                f"'{function}' does not name a function: write it as package.module:function"
            )
        return function
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", repr(function))
    module = getattr(function, "__module__", None)
    fix = "define it at module level in an importable module and pass that function"
    if name == "<lambda>" or "<lambda>" in name:
        raise PipelineNotImportable(f"the pipeline is a lambda, which a worker process cannot import: {fix}")
    if "<locals>" in name:
        outer = name.split(".<locals>")[0]
        raise PipelineNotImportable(
            f"the pipeline function {name.split('.')[-1]} is defined inside {outer}, so a worker process "
            f"cannot import it: {fix}"
        )
    if not module or module == "__main__":
        raise PipelineNotImportable(
            f"the pipeline function {name} lives in __main__, which a worker process cannot import by "
            f"name: move it into a module and import it from there"
        )
    return f"{module}:{name}"


class PipelineFunction(Scenario):
    """Adapts a pipeline function to the scenario interface."""

    memory_grows_with_data = None  # nobody knows until it is measured at two sizes

    def __init__(self, reference: str, arguments: dict[str, Any]) -> None:
        self.name = reference
        self.reference = reference
        self.arguments = dict(arguments)
        shown = ", ".join(f"{key}={value!r}" for key, value in self.arguments.items())
        self.summary = f"user pipeline {reference}({shown})"
        self.description = (
            f"The user's pipeline {reference}({shown}), measured as it is: its own data, batching "
            "and tf.data options."
        )

    def _function(self) -> Callable[..., Any]:
        module_name, _, attribute = self.reference.partition(":")
        module = importlib.import_module(module_name)
        target: Any = module
        for part in attribute.split("."):
            target = getattr(target, part)
        if not callable(target):
            raise TypeError(f"{self.reference} is a {type(target).__name__}, not a function")
        return target

    def validate(self) -> None:
        self._function()

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        made = self._function()(**self.arguments)
        if isinstance(made, tf.data.Dataset):
            yield made
            return
        if isinstance(made, tuple) and len(made) == 2 and callable(made[0]):
            yield tf.data.Dataset.from_generator(made[0], output_signature=made[1])
            return
        raise TypeError(
            f"{self.reference} returned {type(made).__name__}: return a tf.data.Dataset, or a pair "
            "(generator function, output_signature)"
        )

    def source_text(self) -> str | None:
        # Read the file rather than import it: the parent process must not import TensorFlow.
        module_name = self.reference.partition(":")[0]
        try:
            spec = importlib.util.find_spec(module_name)
        except Exception:  # noqa: BLE001 - finding it imports its packages, which may raise anything
            return None
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        try:
            return Path(spec.origin).read_text()
        except OSError:
            return None


def module_source(reference: str) -> Path | None:
    """The source file of the module of ``reference``, found on this process's path without importing
    it (a worker is started with the same path); None where it is importable but has no ``.py`` file.
    PipelineNotImportable where no such module is on the path at all."""
    module = reference.partition(":")[0]
    parts = module.split(".")
    folders = [Path(entry or ".") for entry in sys.path]
    for part in parts[:-1]:
        folders = [folder / part for folder in folders if (folder / part).is_dir()]
    candidates = [f / f"{parts[-1]}.py" for f in folders] + [f / parts[-1] / "__init__.py" for f in folders]
    source = next((path for path in candidates if path.is_file()), None)
    if source is not None:
        return source
    try:
        found = importlib.util.find_spec(parts[0]) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None  # importable some other way (a compiled module, say): the worker will tell
    where = Path.cwd()
    raise PipelineNotImportable(f"cannot import module '{module}' of --pipeline {reference} from {where}: run "
                                "from the folder that holds it, or add that folder to PYTHONPATH")


def _function_node(reference: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    source = module_source(reference)
    if source is None:
        return None
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    function = reference.partition(":")[2]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            return node
    return None


def check_importable(reference: str) -> None:
    """Refuse, before anything is measured, a pipeline whose module a worker could not import."""
    module_source(reference)


def accepts_keyword(reference: str, keyword: str) -> bool | None:
    """Whether the function ``reference`` takes ``keyword`` (or **kwargs), read from its source
    without importing it (its module may import TensorFlow); None where the source cannot be parsed.
    PipelineNotImportable where no source of the module is on the path at all."""
    node = _function_node(reference)
    if node is None:
        return None
    arguments = node.args
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    return keyword in names[len(arguments.posonlyargs):] or arguments.kwarg is not None
