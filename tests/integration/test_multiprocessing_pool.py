"""The process pool of the multiprocessing scenario: reused across epochs, gone after an early
stop."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import TINY_BATCH
from tests.helpers import subprocess_env

SCRIPT = textwrap.dedent(
    """
    import pickle, sys
    from pathlib import Path

    import psutil

    from profiler.strategy.registry import registered
    from profiler.strategy.scenario import PipelineContext

    def pool_processes():
        return [p for p in psutil.Process().children()
                if not any("resource_tracker" in part for part in p.cmdline())]

    if __name__ == "__main__":
        source = pickle.loads(bytes.fromhex(sys.argv[1]))
        context = PipelineContext(
            source, batch_size=int(sys.argv[2]), workers=2, temp_dir=Path(sys.argv[3])
        )
        with registered()["multiprocessing"].open(context) as dataset:
            for images, labels in dataset:
                break  # stop the first epoch after one batch
            pool = pool_processes()
            print("POOL", len(pool), flush=True)
            samples = sum(int(labels.shape[0]) for images, labels in dataset)
            print("NEXT_EPOCH_SAMPLES", samples)
            same = sorted(p.pid for p in pool_processes()) == sorted(p.pid for p in pool)
            print("SAME_POOL", same)
        gone, alive = psutil.wait_procs(pool, timeout=10)
        print("ALIVE_AFTER_CLOSE", len(alive) + len(pool_processes()))
    """
)


def test_pool_is_reused_and_closed_after_an_early_stop(tiny_images, tmp_path):
    import pickle

    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            pickle.dumps(tiny_images).hex(),
            str(TINY_BATCH),
            str(tmp_path),
        ],
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in completed.stdout.splitlines() if " " in line)
    assert lines["POOL"] == "2"
    assert lines["NEXT_EPOCH_SAMPLES"] == "70"
    assert lines["SAME_POOL"] == "True"
    assert lines["ALIVE_AFTER_CLOSE"] == "0"
