"""A worker's own deadline against a worker that is left running between its turns."""

from __future__ import annotations

import time

from profiler.base.settings import MeasureSettings, Target
from profiler.measuring.runner import Runner
from profiler.measuring.worker_session import WorkerSession
from profiler.system.lifeline import DEADLINE_GRACE_S


def test_a_worker_waiting_unfrozen_for_its_next_turn_outlives_its_own_timeout(tiny_images):
    # The worker's own deadline is 2 s of its own time plus the grace. Its parent, with a deadline
    # of its own far off, asks for the next window only after 3 s more than that, and never
    # freezes the worker meanwhile (as with a cluster of the user's): the wait is the parent's time,
    # so the worker is still there to answer.
    settings = MeasureSettings(batch_size=4, workers=1, timeout_s=2.0)
    with Runner(tiny_images, settings) as runner:
        task = runner.new_task(Target.scenario("tests.fakes:STEADY_20MS"))
        with WorkerSession(task, timeout_s=300.0) as session:
            session.epoch()
            time.sleep(2.0 + DEADLINE_GRACE_S + 3.0)
            window = session.window(2)
            assert window.batches >= 1 and window.samples >= 4
            assert session._process.is_alive()
