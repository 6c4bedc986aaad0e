"""A user's pipeline is found and checked before anything runs, from its source, never imported."""

from __future__ import annotations

import sys
from importlib import metadata

import numpy as np
import pytest

from profiler.base.errors import ProfilerError
from profiler.commands import main
from profiler.strategy.pipeline_source import (
    PipelineNotImportable,
    check_pipeline,
    locate,
    top_level_names,
)
from profiler.worker.batches import bad_batch, batch_length


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A folder on the path with a module, a package whose import would fail, and a broken
    module."""
    (tmp_path / "shop_data.py").write_text(
        "import os\n\ndef make_dataset(batch_size=32):\n    return None\n\nif "
        "os.environ.get('X'):\n    def extra():\n        pass\nelse:\n    extra = None\n"
    )
    package = tmp_path / "shop_pkg"
    package.mkdir()
    # Importing the package would raise: the checks must never run it (it may import TensorFlow).
    (package / "__init__.py").write_text("raise RuntimeError('the package was imported')\n")
    (package / "pipelines.py").write_text("def make():\n    pass\n")
    (tmp_path / "shop_broken.py").write_text("def make(:\n")
    (tmp_path / "shop_star.py").write_text("from os.path import *\n")
    # Modules that bind names no plain statement shows: only running them could tell, so they pass.
    (tmp_path / "shop_walrus.py").write_text("def _m():\n    pass\n\n(make := _m)\n")
    (tmp_path / "shop_match.py").write_text(
        "import sys\nmatch sys.platform:\n    case _:\n        make = 1\n"
    )
    (tmp_path / "shop_globals.py").write_text(
        "for name in ['make']:\n    globals()[name] = print\n"
    )
    # Names bound to constants last, and names a def, a call or a conditional block binds last.
    (tmp_path / "shop_values.py").write_text(
        "NOT_A_FUNC = 3\nTABLE: dict = {'a': (1, 2)}\nlate = 3\n\ndef late():\n    pass\n\n"
        "made = 1\nmade = print\nmaybe = 1\nif late:\n    maybe = print\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_module_and_function_that_exist_pass_without_being_imported(modules):
    check_pipeline("shop_data:make_dataset")
    check_pipeline("shop_data:extra")  # defined in a conditional block
    check_pipeline("shop_pkg.pipelines:make")
    check_pipeline("shop_star:join")  # a star import: only a worker can tell
    check_pipeline("shop_walrus:make")
    check_pipeline("shop_match:make")
    check_pipeline("shop_globals:make")
    check_pipeline("os.path:join")  # a module that is no package, yet has a submodule once imported
    for name in ("late", "made", "maybe"):  # a def, a name or a conditional block binds it last
        check_pipeline(f"shop_values:{name}")
    assert "shop_pkg" not in sys.modules and "shop_data" not in sys.modules
    assert locate("shop_pkg.pipelines:make") == modules / "shop_pkg" / "pipelines.py"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("no_such_module_here:make", "cannot import module 'no_such_module_here'"),
        ("shop_pkg.nope:make", "cannot import module 'shop_pkg.nope'"),
        ("shop_data.py:make", "write the module's name: shop_data:..."),
        ("shop_data.sub:make", "'shop_data' is a module, not a package"),
        ("shutil.nosuch:f", "'shutil' is a module, not a package"),
        ("os.nosuch:f", "'os' is a module, not a package"),  # a frozen module: no file at all
        (
            "folder/shop_data:make",
            "is not a module name: write it as package.module:function, with dots",
        ),
        ("shop_data:", "'' in --pipeline shop_data: is not a function name"),
        (
            "shop_data:make_datset",
            "defines no 'make_datset' for --pipeline shop_data:make_datset (did you mean "
            "shop_data:make_dataset?)",
        ),
        (
            "shop_values:NOT_A_FUNC",
            "'NOT_A_FUNC' in module 'shop_values' (",
        ),
        ("shop_values:NOT_A_FUNC", ") is a constant of type int, not a function, for --pipeline"),
        ("shop_values:TABLE", "is a constant of type dict, not a function"),
        (
            "shop_broken:make",
            "cannot read module 'shop_broken' of --pipeline shop_broken:make: invalid syntax "
            "(shop_broken.py, line 1): fix it and run again",
        ),
    ],
)
def test_what_a_worker_could_not_import_is_refused_in_one_line(modules, reference, expected):
    with pytest.raises(PipelineNotImportable) as refused:
        check_pipeline(reference)
    assert expected in str(refused.value) and "\n" not in str(refused.value)
    assert refused.value.exit_code == 2
    assert "shop_pkg" not in sys.modules


def test_the_command_refuses_before_any_folder_exists(modules, capsys):
    assert (
        main(["run", "--pipeline", "shop_data:make_datset", "--output", str(modules / "out")]) == 2
    )
    assert "did you mean shop_data:make_dataset?" in capsys.readouterr().err
    assert not (modules / "out").exists()
    assert (
        main(
            [
                "run",
                "--pipeline",
                "shop_data:make_dataset",
                "--pipeline-arg",
                "batch_size=8",
                "--pipeline-arg",
                "batch_size=16",
                "--output",
                str(modules / "out"),
            ]
        )
        == 2
    )
    assert (
        "--pipeline-arg batch_size is given twice for --pipeline shop_data:make_dataset"
        in capsys.readouterr().err
    )


def test_top_level_names_unknown_where_the_module_decides_at_run_time():
    import ast

    assert top_level_names(ast.parse("def __getattr__(name):\n    pass\n")) is None
    assert top_level_names(ast.parse("from x import *\n")) is None
    assert top_level_names(
        ast.parse("import a.b\nfrom c import d as e\nf: int = 1\nfor g in []:\n    pass\n")
    ) == {"a", "e", "f", "g"}


def test_a_module_named_like_the_builtins_is_named_not_imported(tmp_path, monkeypatch):
    from profiler.strategy.registry import BUILTIN, ENTRY_POINT_GROUP, _check_not_shadowed

    # Naming SCENARIOS does not make it the built-ins' package.
    (tmp_path / "scenarios.py").write_text(
        "SCENARIOS = []\nraise RuntimeError('the user module was imported')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "scenarios", raising=False)
    (point,) = [p for p in metadata.entry_points(group=ENTRY_POINT_GROUP) if p.name == BUILTIN]
    with pytest.raises(ProfilerError, match=r"scenarios\.py' hides the built-in strategies"):
        _check_not_shadowed(point)


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        (
            {"image": 1, "label": 2},
            "each element is a dict (image, label): deliver (images, labels) pairs",
        ),
        (({"image": np.zeros((4, 2))}, np.zeros(4)), "the inputs are a dict (image)"),
        (
            (np.zeros((8, 8, 3)), np.int64(3)),
            "each element is one sample (its labels have no batch dimension): add .batch(N)",
        ),
        (
            (np.zeros((4, 8)), np.zeros(4), np.zeros(4)),
            "each element must be a pair (images, labels); got 3 parts",
        ),
    ],
)
def test_an_element_that_is_not_a_batch_is_named(element, expected):
    assert expected in bad_batch(element)


class _ScalarShape:
    """As TensorFlow's TensorShape([]): true (its rank is known), yet no dimension."""

    def __bool__(self) -> bool:
        return True

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


def test_a_tensorflow_scalar_label_is_one_sample():
    label = type("EagerTensor", (), {"shape": _ScalarShape()})()
    assert "each element is one sample" in bad_batch((np.zeros((8, 8, 3)), label))


def test_counting_a_batch_that_is_not_one_says_what_it_is():
    with pytest.raises(ValueError, match=r"^each element is a dict \(image, label\)"):
        batch_length({"image": 1, "label": 2})
    with pytest.raises(ValueError, match=r"^each element is one sample"):
        batch_length((np.zeros((8, 8, 3)), np.int64(3)))
    assert batch_length((np.zeros((5, 8, 8, 3)), np.zeros(5))) == 5
