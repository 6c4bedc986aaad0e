"""A scratch folder whose owner is killed outright, at a moment when none of its processes is
alive, is removed by its janitor; an owner that releases it leaves no janitor running."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from profiler.system import scratch

_OWNER = """
import sys, time
from profiler.system.scratch import owned_folder
folder = owned_folder(sys.argv[1], "owned-", swept_if_killed=sys.argv[2] == "swept")
(folder / "inside").mkdir()
(folder / "inside" / "file").write_text("x")
print(folder, flush=True)
time.sleep(120)
"""


def _killed_owners_folder(parent: Path, swept: bool) -> Path:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(parent), "swept" if swept else "kept"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        folder = Path(owner.stdout.readline().strip())
        assert (folder / "inside" / "file").is_file()
    finally:
        owner.kill()  # SIGKILL: nothing of its own runs
        owner.wait()
        owner.stdout.close()
    return folder


def _gone_within(folder: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not folder.exists()


def test_the_janitor_removes_the_folder_of_an_owner_killed_outright(tmp_path):
    assert _gone_within(_killed_owners_folder(tmp_path, swept=True), 30.0)


def test_without_a_janitor_the_folder_waits_for_the_next_run(tmp_path):
    folder = _killed_owners_folder(tmp_path, swept=False)
    time.sleep(1.0)  # what a janitor would have been given
    assert folder.exists()
    assert scratch.remove_abandoned(tmp_path, "owned-") == [folder]


@pytest.mark.parametrize("removed_first", [True, False])
def test_release_ends_the_janitor_and_it_removes_only_what_is_left(tmp_path, removed_first):
    folder = scratch.owned_folder(tmp_path, "owned-", swept_if_killed=True)
    process, _ = scratch._JANITORS[str(folder)]
    if removed_first:
        folder.rmdir()
    scratch.release(folder)
    assert process.returncode is not None  # waited for: nothing outlives the release
    assert str(folder) not in scratch._JANITORS
    assert not folder.exists()  # what the owner left, the janitor took
