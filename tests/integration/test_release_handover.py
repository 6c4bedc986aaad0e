"""A spent iterator's release that waits, interleaved: the worker lets the machine go meanwhile.

Ground truth: a fake whose batches come 20 ms apart, 5 an epoch, and whose every epoch's iterator
takes 0.5 s to be let go of, as a tf.data iterator waits for its autotuning thread's next wake.
"""

from __future__ import annotations

import threading
import time

import pytest

from profiler.base.settings import MeasureSettings, Target
from profiler.measuring.runner import Runner
from profiler.measuring.turns import Conductor, Solo
from profiler.measuring.worker_session import WorkerSession

RELEASE_S = 0.5


def test_a_waiting_release_is_in_neither_the_turn_nor_the_window_and_the_others_go_on(
    tiny_images,
):
    settings = MeasureSettings(batch_size=4, workers=1, timeout_s=60.0)
    conductor = Conductor(seed=0)
    others_at: list[float] = []
    done = threading.Event()
    with Runner(tiny_images, settings) as runner:
        slow_task = runner.new_task(Target.scenario("tests.fakes:SLOW_RELEASE_20MS"))
        other_task = runner.new_task(Target.scenario("tests.fakes:STEADY_20MS"))
        with (
            WorkerSession(slow_task, timeout_s=120.0) as slow,
            WorkerSession(other_task, timeout_s=120.0) as other,
        ):
            slow.seat = conductor.seat("slow", slow.freeze, slow.thaw)
            other.seat = conductor.seat("other", other.freeze, other.thaw)

            def others() -> None:
                try:
                    while not done.is_set():
                        other.window(2)
                        others_at.append(time.monotonic())
                finally:
                    other.seat.leave()

            thread = threading.Thread(target=others)
            thread.start()
            try:
                slow.window(2)  # the stream's pace, and two of the epoch's five batches
                began = time.monotonic()
                window = slow.window(8)  # three, the epoch's end and its release, five more
                took = time.monotonic() - began
            finally:
                done.set()
                slow.seat.leave()
                thread.join(60)
            slow.seat = other.seat = Solo()  # closed alone
    assert window.epochs_ended == 1
    assert took >= RELEASE_S  # the release was waited for...
    assert slow.turn_wall_s < RELEASE_S  # ...outside the turn,
    assert window.seconds < RELEASE_S  # and outside the window, whose rate is the batches'
    assert window.samples / window.seconds == pytest.approx(200, rel=0.07)
    # The other worker took its turns meanwhile, where the release used to hold it frozen.
    assert sum(began < at < began + took for at in others_at) >= 2
