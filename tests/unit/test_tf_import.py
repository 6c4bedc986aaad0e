"""A measuring process imports TensorFlow without matplotlib, which Keras imports only for its image
gallery (1 s of CPU and 29 MiB a worker); a pipeline that uses matplotlib still gets it. Checked on
a stand-in package, in a fresh interpreter, that says whether it could import matplotlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

STAND_IN = """
try:
    import matplotlib.pyplot
    PLOTTING = True
except ImportError:
    PLOTTING = False
"""


def _run(tmp_path: Path, before: str) -> list[str]:
    package = tmp_path / "stand_in_tensorflow"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text(STAND_IN)
    script = (
        f"{before}\n"
        "import sys\n"
        "from profiler.system.tf_import import import_tensorflow\n"
        "import_tensorflow('stand_in_tensorflow')\n"
        "import stand_in_tensorflow\n"
        "print(stand_in_tensorflow.PLOTTING)\n"
        "print(any(type(f).__name__ == '_NoPlotting' for f in sys.meta_path))\n"
        "import matplotlib.pyplot\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": f"{tmp_path}:{root}", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture(autouse=True)
def _needs_matplotlib() -> None:
    pytest.importorskip("matplotlib")


def test_tensorflow_is_imported_without_matplotlib_and_matplotlib_imports_after(tmp_path):
    assert _run(tmp_path, "") == ["False", "False", "True"]


def test_a_pipeline_that_imported_matplotlib_first_keeps_it(tmp_path):
    assert _run(tmp_path, "import matplotlib") == ["True", "False", "True"]
