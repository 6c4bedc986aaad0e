"""A stop signal held back while a child starts: whichever thread the kernel hands it to, it acts
only once the start is over, and then as it would have."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from profiler.system.stopping import Terminated, stop_signals_deferred, termination_handled


@pytest.mark.parametrize("sender", ["this thread", "another thread"])
def test_a_stop_during_the_deferral_acts_after_it(sender):
    reached_the_end = False
    with (
        termination_handled(),
        pytest.raises(Terminated, match="SIGTERM"),
        stop_signals_deferred(),
    ):
        if sender == "this thread":
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            # Unblocked there, so the kernel may hand the signal to that thread.
            thread = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGTERM))
            thread.start()
            thread.join()
        time.sleep(0.05)  # time for a handler to run, were it to run here
        reached_the_end = True
    assert reached_the_end


def test_the_handlers_are_put_back_and_nothing_is_raised_without_a_signal():
    with termination_handled():
        before = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGHUP)}
        with stop_signals_deferred():
            pass
        assert {number: signal.getsignal(number) for number in before} == before


def test_a_stop_while_the_reference_closes_acts_once_it_is_closed():
    # A stop landing before "close" was sent left the reference waiting for it, and the run's
    # exit waiting on the reference: the close now completes first.
    from profiler.measuring.reference import ReferenceWorkload

    events: list = []

    class Conn:
        def send(self, message) -> None:
            signal.raise_signal(signal.SIGTERM)  # as the stop comes
            events.append(message)

        def close(self) -> None:
            events.append("pipe closed")

    class Process:
        def join(self, timeout) -> None:
            events.append("joined")

        def is_alive(self) -> bool:
            return False

    def stop(number, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        workload = ReferenceWorkload()
        workload._process, workload._conn = Process(), Conn()
        with pytest.raises(KeyboardInterrupt):
            workload.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert events == [("close",), "joined", "pipe closed"]
    assert workload._process is None
