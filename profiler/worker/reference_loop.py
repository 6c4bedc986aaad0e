"""The machine's speed reference: a fixed CPU workload, the same on every machine and every day,
run in its own spawned process in turns beside the workers (``profiler.measuring.reference``).

The work is the decode loop of the pipelines, on one core: a fixed 256x256 JPEG decoded with
OpenCV, resized to 64x64 and scaled to floats. It depends on no data of the user's, so its rate
compares across runs, and a pipeline's rate over it cancels what the machine was doing.

The process is also the guard of the frozen workers: it is never frozen itself, and when the
parent dies (SIGKILL leaves it no time to clean up) it wakes every process it was told of, whose
own lifelines then see the parent gone and end them (``profiler.system.lifeline``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from profiler.system.freezing import thaw
from profiler.system.lifeline import EXIT_ORPHANED
from profiler.system.stopping import signals_as_a_child

UNIT = "decodes/s"
_CHECK_S = 0.25


def fixed_image() -> bytes:
    """The reference's JPEG: smooth gradients and seeded noise, as a photograph has both."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(20170422)
    ramp = np.linspace(0, 200, 256, dtype=np.float32)
    pixels = rng.random((256, 256, 3), dtype=np.float32) * 40 + ramp[None, :, None]
    return bytes(cv2.imencode(".jpg", pixels.astype(np.uint8))[1])


def reference_main(conn: Any, parent_pid: int) -> None:
    """Answer ("run", seconds) with ("ran", decodes, seconds) until ("close",); note ("guard",
    pids) for the guard. With ("source", source) told, ("work", seconds) times the run's own
    sample work (read, decode, resize, scale: ``load_sample``, as the ceiling times it), cycling
    over the samples, and answers ("ran", samples, seconds) or ("failed", reason)."""
    signals_as_a_child()
    import cv2
    import numpy as np

    cv2.setNumThreads(1)  # one core, whatever the machine has: its speed, not its width
    encoded = np.frombuffer(fixed_image(), np.uint8)
    source: Any = None
    position = 0
    guarded: set[int] = set()
    lock = threading.Lock()
    threading.Thread(
        target=_guard, args=(parent_pid, guarded, lock), name="profiler-guard", daemon=True
    ).start()
    while True:
        try:
            request = conn.recv()
            if request[0] == "close":
                return
            if request[0] == "guard":
                with lock:
                    guarded.update(request[1])
            elif request[0] == "source":
                source, position = request[1], 0
            elif request[0] == "work":
                answer, position = _sample_work(source, position, float(request[1]))
                conn.send(answer)
            else:
                conn.send(_decodes(encoded, float(request[1])))
        except (EOFError, OSError):  # the parent is gone: nobody will thaw what it froze
            with lock:
                thaw(guarded)  # their lifelines, running again, see the parent gone
            return


def _decodes(encoded: Any, seconds: float) -> tuple[str, int, float]:
    """The fixed image decoded, resized and scaled for ``seconds``: ("ran", decodes, seconds)."""
    import cv2
    import numpy as np

    decodes, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or decodes == 0:
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        _ = cv2.resize(image, (64, 64)).astype(np.float32) / 255.0
        decodes += 1
    return ("ran", decodes, elapsed)


def _sample_work(source: Any, position: int, seconds: float) -> tuple[tuple[Any, ...], int]:
    """The run's samples worked through for ``seconds``, from ``position`` on: the answer, and where
    the next turn goes on."""
    samples, started = 0, time.perf_counter()
    try:
        while (elapsed := time.perf_counter() - started) < seconds or samples == 0:
            source.load_sample(position)
            position = (position + 1) % source.num_samples
            samples += 1
    except Exception as error:  # noqa: BLE001 - a sample gone bad ends these turns, not the run
        return ("failed", f"{type(error).__name__}: {error}"), position
    return ("ran", samples, elapsed), position


def _guard(parent_pid: int, guarded: set[int], lock: threading.Lock) -> None:
    while True:
        time.sleep(_CHECK_S)
        if os.getppid() == parent_pid:
            continue
        with lock:
            thaw(guarded)  # their lifelines, running again, see the parent gone
        os._exit(EXIT_ORPHANED)
