"""A user's own pipeline, measured like a scenario: a function named ``package.module:function``.

The function returns a ``tf.data.Dataset`` (each element a batch of (inputs, labels)), or a pair
(generator function, output_signature) that is fed through ``Dataset.from_generator``. It runs in
the worker process, so it must be importable there by name: a module-level function, not a
lambda, a nested function or something defined in ``__main__``.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from profiler.base.errors import ProfilerError
from profiler.strategy.pipeline_source import PipelineNotImportable, locate, parsed
from profiler.strategy.scenario import PipelineContext, Scenario


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
        raise PipelineNotImportable(
            f"the pipeline is a lambda, which a worker process cannot import: {fix}"
        )
    if "<locals>" in name:
        outer = name.split(".<locals>")[0]
        raise PipelineNotImportable(
            f"the pipeline function {name.split('.')[-1]} is defined inside {outer}, so a worker "
            f"process cannot import it: {fix}"
        )
    if not module or module == "__main__":
        raise PipelineNotImportable(
            f"the pipeline function {name} lives in __main__, which a worker process cannot import "
            "by name: move it into a module and import it from there"
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
        # Read the file rather than import it (or its packages): the parent must not import
        # TensorFlow.
        try:
            source = locate(self.reference)
            return None if source is None else source.read_text(encoding="utf-8", errors="replace")
        except (ProfilerError, OSError):
            return None


def accepts_keyword(reference: str, keyword: str) -> bool | None:
    """Whether the function ``reference`` takes ``keyword`` (or **kwargs), read from its source
    without importing it (its module may import TensorFlow); None where the source cannot be read.
    PipelineNotImportable where the module is not there or does not parse."""
    found = parsed(reference)
    if found is None:
        return None
    function = reference.partition(":")[2]
    node = next(
        (
            n
            for n in found[1].body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function
        ),
        None,
    )
    if node is None:
        return None
    arguments = node.args
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    return keyword in names[len(arguments.posonlyargs) :] or arguments.kwarg is not None
