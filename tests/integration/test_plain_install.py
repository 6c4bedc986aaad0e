"""The pytest fixture loads after a plain ``pip install .``: nothing but the declared requirements.

A fresh virtual environment sees only the package and the closure of its requirements without
extras, taken from what is installed here (linked, not downloaded), so a requirement the fixture
needs but the package leaves to an extra is missing there exactly as after ``pip install .``.
"""

from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PACKAGE = "tf-pipeline-profiler"


def _closure(name: str) -> dict[str, metadata.Distribution]:
    """Every distribution ``name`` needs without extras, as installed here."""
    found: dict[str, metadata.Distribution] = {}
    pending: list[tuple[str, frozenset[str]]] = [(name, frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        wanted, extras = pending.pop()
        key = (canonicalize_name(wanted), extras)
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(wanted)
        found[key[0]] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(
                marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                pending.append((requirement.name, frozenset(requirement.extras)))
    return found


def _link_distribution(dist: metadata.Distribution, into: Path) -> None:
    """Link the distribution's top-level modules and its metadata folder into ``into``."""
    info = Path(dist._path)  # type: ignore[attr-defined] - the .dist-info or .egg-info folder
    site = info.parent
    tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
    top_level = dist.read_text("top_level.txt")
    tops |= set((top_level or "").split())
    for top in tops | {info.name}:
        source = site / top
        for candidate in (source, site / f"{top}.py"):
            target = into / candidate.name
            if candidate.exists() and not target.exists() and not candidate.name.endswith(".pth"):
                target.symlink_to(candidate)


@pytest.fixture(scope="module")
def plain_environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plain-install")
    environment = root / "venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    overlay = root / "site"
    overlay.mkdir()
    for dist in _closure(PACKAGE).values():
        _link_distribution(dist, overlay)
    purelib = subprocess.run(
        [
            str(environment / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "plain-install.pth").write_text(f"{overlay}\n")
    return environment


def test_the_declared_requirements_hold_pytest_and_pytest_benchmark() -> None:
    needed = {canonicalize_name(name) for name in _closure(PACKAGE)}
    assert {"pytest", "pytest-benchmark"} <= needed


def test_the_fixture_loads_in_a_plain_install(plain_environment: Path, tmp_path: Path) -> None:
    (tmp_path / "test_fixture.py").write_text(
        "def test_fixture(pipeline_benchmark, benchmark):\n    assert "
        "type(pipeline_benchmark).__name__ == 'PipelineBenchmark'\n    assert "
        "callable(pipeline_benchmark.scenario)\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = subprocess.run(
        [
            str(plain_environment / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_fixture.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_a_missing_requirement_is_caught(plain_environment: Path, tmp_path: Path) -> None:
    """The check can fail: without pytest-benchmark linked, the fixture cannot load."""
    overlay = plain_environment.parent / "site"
    hidden = [path for path in overlay.iterdir() if path.name.startswith("pytest_benchmark")]
    assert hidden, "pytest-benchmark was not linked"
    moved = [path.rename(path.with_name("_" + path.name)) for path in hidden]
    try:
        (tmp_path / "test_fixture.py").write_text(
            "def test_fixture(pipeline_benchmark):\n    pass\n"
        )
        (tmp_path / "pytest.ini").write_text("[pytest]\n")
        done = subprocess.run(
            [
                str(plain_environment / "bin" / "python"),
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "test_fixture.py",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin"},
        )
    finally:
        for path in moved:
            path.rename(path.with_name(path.name[1:]))
    assert done.returncode != 0
    assert (
        "pipeline_benchmark" in done.stdout + done.stderr
        or "pytest_benchmark" in done.stdout + done.stderr
    )
