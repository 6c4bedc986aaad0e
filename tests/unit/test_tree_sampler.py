"""The tree memory sampler against allocations of known size, in a plain child process."""

from __future__ import annotations

import subprocess
import sys
import time

from profiler.system.memory import TreeMemorySampler

_CHILD = """
import sys
sys.stdin.readline()
held = bytearray(96 << 20)  # written by the zeroing: resident, and private to this process
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_read_on_demand_sees_what_the_sampling_thread_has_not_read_yet():
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        # No timed PSS read after the first: only the one on demand can see the allocation.
        sampler = TreeMemorySampler(child.pid, pss_interval_s=600, pss_min_gap_s=600).start()
        deadline = time.monotonic() + 10
        while not sampler.snapshot().pss and time.monotonic() < deadline:
            time.sleep(0.01)
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "held"
        sampler.read_pss()
        child.stdin.write("end\n")
        child.stdin.flush()
        child.wait(10)
        trace = sampler.stop()
    finally:
        child.kill()
        child.wait()
    first, last = trace.pss[0][1], trace.pss[-1][1]
    assert len(trace.pss) == 2
    assert 90 <= last - first <= 110, trace.pss
