"""The tree's CPU split by the roles a pipeline names (``PipelineContext.helpers``), down to scale's
points.

The session reads each process of the worker's tree and counts it under the nearest ancestor whose
pid the pipeline named, or under the trainer; the procedure takes the split over the flat-out phase;
metrics turn it into CPU per sample; scaled.point_of reads it per role. Trees and CPU times are
constructed (tests.fake_session): the split must equal their sums.
"""

from __future__ import annotations

import pytest

from profiler.analysis.scale_result import point_of
from profiler.base.settings import MeasureSettings
from profiler.measuring.metrics import cpu_roles
from profiler.measuring.procedure import FlatOut, measure
from profiler.results.records import RoleCpu, ScenarioResult, cpu_us_per_sample_by_role
from profiler.strategy.scenario import DISPATCHER, SERVICE_WORKERS, TRAINER, Helpers
from profiler.worker.loops import EpochTiming
from tests.fake_session import WORKER_PID, FakeClock, FakeProcess, FakeSampler, ScriptedSession

WARMUP = EpochTiming(seconds=0.2, first_batch_s=0.01, batches=20, samples=640, cpu_s=0.1)


def _tree() -> list[FakeProcess]:
    return [
        # 1.8
        FakeProcess(WORKER_PID, 1, user=1.0, system=0.5, children_user=0.2, children_system=0.1),
        FakeProcess(150, WORKER_PID, user=0.7),  # a pool process the pipeline did not name: 0.7
        FakeProcess(200, WORKER_PID, user=0.4, system=0.1),  # the dispatcher: 0.5
        FakeProcess(210, 200, user=0.1),  # started by the dispatcher: 0.1
        FakeProcess(300, WORKER_PID, user=2.0),  # two service workers: 2.0 and 1.5
        FakeProcess(301, WORKER_PID, user=1.0, system=0.5),
        FakeProcess(310, 300, user=0.25),  # a child and a grandchild of the first: 0.25 and 0.05
        FakeProcess(311, 310, system=0.05),
        FakeProcess(400, 999, user=0.3),  # its parent gone, out of the tree: the trainer's, 0.3
        # exited since it was seen: nothing to read
        FakeProcess(500, WORKER_PID, user=9.0, gone=True),
    ]


ROLES = {200: DISPATCHER, 300: SERVICE_WORKERS, 301: SERVICE_WORKERS}


def _session(processes: list[FakeProcess], roles: dict[int, str]) -> ScriptedSession:
    session = ScriptedSession(
        WARMUP, [1000.0] * 20, clock=FakeClock(), processes=processes, roles=roles
    )
    session._sampler = FakeSampler(processes)
    return session


def test_each_process_counts_under_the_nearest_named_ancestor_or_the_trainer():
    split = _session(_tree(), ROLES).cpu_seconds_by_role()
    assert split == pytest.approx(
        {
            TRAINER: 1.8 + 0.7 + 0.3,
            DISPATCHER: 0.5 + 0.1,
            SERVICE_WORKERS: 2.0 + 1.5 + 0.25 + 0.05,
        }
    )
    # Every readable process is counted once: the split adds up to the tree's own total.
    assert sum(split.values()) == pytest.approx(_session(_tree(), ROLES).tree_cpu_seconds())


def test_without_named_processes_the_whole_tree_is_the_trainer_s():
    split = _session(_tree(), {}).cpu_seconds_by_role()
    assert split == pytest.approx({TRAINER: 1.8 + 0.7 + 0.5 + 0.1 + 2.0 + 1.5 + 0.25 + 0.05 + 0.3})


def test_the_flat_out_split_is_what_each_role_spent_between_the_two_readings(monkeypatch):
    clock = FakeClock()
    processes = [
        FakeProcess(WORKER_PID, 1, user=1.0),
        FakeProcess(200, WORKER_PID, user=0.5),
        FakeProcess(300, WORKER_PID, user=2.0),
    ]
    session = ScriptedSession(
        WARMUP,
        [1000.0] * 20,
        clock=clock,
        processes=processes,
        cpu_per_window={WORKER_PID: 0.3, 200: 0.05, 300: 0.2},
        roles={200: DISPATCHER, 300: SERVICE_WORKERS, 302: SERVICE_WORKERS},
    )

    def three_windows(window, warmup, settings):  # a window driver, as the pytest fixture's is
        taken = [window(20, True), window(20, False)]
        # A service worker that starts mid-phase: all 0.9 s it spent are the phase's.
        session._sampler.processes_seen.append(FakeProcess(302, WORKER_PID, user=0.9))
        taken.append(window(20, False))
        return FlatOut(tuple(taken[1:]), 20)

    flat = measure(session, MeasureSettings(idle_precision=1.0), driver=three_windows).flat_out
    # Three windows, every one of them counted (the driver kept two): 0.3, 0.05 and 0.2 s each.
    assert flat.samples == 3 * 640 and len(flat.windows) == 2
    assert flat.cpu_by_role_s == pytest.approx(
        {TRAINER: 0.9, DISPATCHER: 0.15, SERVICE_WORKERS: 0.6 + 0.9}
    )
    assert flat.cpu_s == pytest.approx(0.9 + 0.15 + 1.5)  # the warm-up's 5 x 0.55 s came before
    roles = cpu_roles([flat])
    assert roles == (
        RoleCpu(TRAINER, pytest.approx(0.9 / 1920 * 1e6)),
        RoleCpu(DISPATCHER, pytest.approx(0.15 / 1920 * 1e6)),
        RoleCpu(SERVICE_WORKERS, pytest.approx(1.5 / 1920 * 1e6)),
    )


def test_no_named_process_means_no_split_is_read(monkeypatch):
    clock = FakeClock()
    session = ScriptedSession(WARMUP, [1000.0] * 20, clock=clock, cpu_per_window={WORKER_PID: 0.3})
    session.cpu_seconds_by_role = lambda: pytest.fail("the split was read with no role named")
    flat = measure(session, MeasureSettings(idle_precision=1.0, precision=1.0)).flat_out
    assert flat.cpu_by_role_s == {} and cpu_roles([flat]) == ()
    assert flat.cpu_s == pytest.approx(0.3 * len(session.windows))


def test_phases_pool_their_roles_over_all_their_samples_with_the_trainer_first():
    first = FlatOut((), 20, samples=1000, cpu_by_role_s={DISPATCHER: 0.1, TRAINER: 0.4})
    second = FlatOut((), 20, samples=3000, cpu_by_role_s={TRAINER: 1.2, SERVICE_WORKERS: 2.0})
    unread = FlatOut((), 20, samples=500)  # a worker whose split was not read adds no samples
    assert cpu_roles([first, second, unread]) == (
        RoleCpu(TRAINER, pytest.approx(1.6 / 4000 * 1e6)),  # 400 µs a sample
        RoleCpu(DISPATCHER, pytest.approx(0.1 / 4000 * 1e6)),
        RoleCpu(SERVICE_WORKERS, pytest.approx(2.0 / 4000 * 1e6)),
    )


def test_scale_reads_each_role_per_sample_and_the_workers_that_served():
    result = ScenarioResult(
        name="data_service",
        status="ok",
        samples_per_s=5000.0,
        samples_per_s_ci=(4900.0, 5100.0),
        cpu_roles=(
            RoleCpu(TRAINER, 400.0),
            RoleCpu(DISPATCHER, 25.0),
            RoleCpu(SERVICE_WORKERS, 500.0),
        ),
        service_workers=3,
        samples_match=True,
    )
    point = point_of(4, result)  # asked for 4, served by 3: the count is what served
    assert point.workers == 3
    assert (
        point.trainer_us_per_sample,
        point.dispatcher_us_per_sample,
        point.workers_us_per_sample,
    ) == (400.0, 25.0, 500.0)
    assert point.cpu_us_per_sample == 925.0
    # A cluster of the user's names no process here: the whole tree's CPU is the trainer's.
    cluster = ScenarioResult(
        name="data_service", status="ok", samples_per_s=5000.0, cpu_s=0.64, samples_per_epoch=640
    )
    assert cpu_us_per_sample_by_role(cluster) == {TRAINER: pytest.approx(1000.0)}
    point = point_of(2, cluster)
    assert point.workers == 2 and point.trainer_us_per_sample == pytest.approx(1000.0)
    assert point.dispatcher_us_per_sample is None and point.cpu_us_per_sample is None


def test_helpers_default_to_naming_nothing():
    assert Helpers().roles == {} and Helpers().service_workers is None
