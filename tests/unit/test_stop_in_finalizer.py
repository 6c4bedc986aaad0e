"""A stop signal whose handler runs inside a finalizer (a weak reference's callback, a __del__):
Python swallows the exception there, so it is raised again where the run next looks."""

from __future__ import annotations

import signal
import weakref

import pytest

from profiler import commands
from profiler.system.stopping import (
    Terminated,
    raise_lost_stop,
    stopped,
    termination_handled,
)


class _StopsWhenFreed:
    """Sends SIGTERM from its finalizer: the handler runs there, as when the signal lands while
    the garbage collector frees an object."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGTERM)


def test_a_stop_swallowed_by_a_finalizer_is_raised_again_and_not_printed(capsys):
    with termination_handled():
        _StopsWhenFreed()  # freed at once: Terminated is raised in __del__, and swallowed there
        assert stopped()
        with pytest.raises(Terminated, match="SIGTERM"):
            raise_lost_stop()
        raise_lost_stop()  # raised once only
    assert "Exception ignored" not in capsys.readouterr().err


def test_a_weak_references_callback_swallowing_a_stop_is_no_exception_to_other_errors():
    class Held:
        pass

    seen = []

    def hook(unraisable) -> None:
        seen.append(type(unraisable.exc_value))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.unraisablehook", hook)
        with termination_handled():
            held = Held()
            ref = weakref.ref(held, lambda _ref: signal.raise_signal(signal.SIGHUP))
            del held
            other = Held()
            weakref.finalize(other, lambda: 1 / 0)
            del other
            with pytest.raises(Terminated, match="SIGHUP"):
                raise_lost_stop()
    assert ref() is None
    assert seen == [ZeroDivisionError]  # the tool's own stop is not shown; any other error is


def test_the_command_line_ends_as_stopped_when_the_stop_was_swallowed(monkeypatch, capsys):
    real = commands.COMMANDS["list"]

    class Swallowing:
        name, help, order = real.name, real.help, real.order
        add_arguments = staticmethod(real.add_arguments)

        @staticmethod
        def run(args, console) -> int:
            _StopsWhenFreed()
            return 0

    monkeypatch.setitem(commands.COMMANDS, "list", Swallowing)
    assert commands.main(["list"]) == 128 + signal.SIGTERM
    assert "interrupted: stopped by SIGTERM" in capsys.readouterr().err
