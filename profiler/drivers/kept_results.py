"""A run's results as they come: each checked against the data and the ceiling, over the machine's
reference, ranked into a pick, and saved as soon as it is done."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from profiler.analysis.pairing import reference_record, with_reference
from profiler.analysis.recommend import recommend
from profiler.base.settings import Target
from profiler.ceiling.limit import Ceiling, in_turns
from profiler.data.fingerprint import Fingerprint
from profiler.results.records import DATA_DIFFERS, RunResult, ScenarioResult


class Keeper:
    """Keeps each target's result as soon as it is done, in the plan's order, and saves the run:
    a group measures its targets together, and one that finished is not lost to a later stop."""

    def __init__(
        self,
        run: RunResult,
        runner: Any,  # profiler.measuring.runner.Runner: its reference turns and its stop
        targets: Sequence[Target],
        results: list[ScenarioResult],
        save: Callable[[RunResult], None],
        events: Any,  # profiler.drivers.run.RunEvents, which imports this module
        samples: int | None,
    ) -> None:
        self.run, self.runner, self.targets, self.results = run, runner, targets, results
        self.save, self.events, self.samples = save, events, samples
        self._by_index: dict[int, ScenarioResult] = {}
        self._alone = run.ceiling  # as first timed; the turns rescale this one, never their own

    def at(self, offset: int) -> Callable[[int, ScenarioResult], None]:
        """What a group whose first target is the plan's ``offset``-th calls as each is done."""
        return lambda item, result: self.keep(offset + item, result)

    def latest(self, stopped: bool) -> RunResult:
        """The run as kept; where a stop came after the last row was kept (its record says the run
        went on), marked interrupted and saved again, so that nothing after it begins."""
        if stopped and not self.run.interrupted:
            self.run = with_results(self.run, self.results, interrupted=True)
            self.save(self.run)
        return self.run

    def keep(self, index: int, result: ScenarioResult) -> None:
        # The target's rounds are all behind it, and so are the reference's turns beside them.
        turns = self.runner.reference
        reference = reference_record(turns.unit, *turns.split(), *turns.split_work())
        ceiling = self._alone
        if ceiling is not None and reference is not None:
            ceiling = in_turns(ceiling, reference.work_rates)
        run = replace(self.run, reference=reference, ceiling=ceiling)
        expected = run.expected_fingerprint
        result = checked(
            with_reference(result, run.reference), self.targets[index], expected, ceiling
        )
        if not result.ok or result.data_status == DATA_DIFFERS:
            result = _with_data_changes(result, self.runner.source)
        self._by_index[index] = result
        # The rows kept before, against the ceiling as timed in all the turns so far.
        self._by_index = {
            i: checked(r, self.targets[i], expected, ceiling) for i, r in self._by_index.items()
        }
        self.results[:] = [self._by_index[i] for i in sorted(self._by_index)]
        self.run = with_results(run, self.results, interrupted=self.runner.interrupted)
        self.save(self.run)
        self.events.target_finished(result, self.samples)


def _with_data_changes(result: ScenarioResult, source: Any) -> ScenarioResult:
    """A failed or differing row whose data was rewritten or removed while it ran says so: it read
    other files than were indexed, or than were generated."""
    changed = source.changed_files() if source is not None else []
    if not changed:
        return result
    if source.spec.is_user_data:
        said = (
            f"{len(changed):,} of your data's files changed or vanished after they were indexed "
            f"(the first: '{changed[0]}'): run again, and the data is indexed anew"
        )
    else:
        said = (
            f"{len(changed):,} of the generated dataset's files vanished while the run went on "
            f"(the first: '{changed[0]}'): run again, and they are generated anew"
        )
    return replace(result, error=f"{result.error}; {said}" if result.error else said)


def checked(
    result: ScenarioResult, target: Target, expected: Fingerprint | None, ceiling: Ceiling | None
) -> ScenarioResult:
    """A scenario's result with its data compared to the dataset's and its rate to the ceiling.

    A user's pipeline brings its own data: there is nothing to compare it with.
    """
    if target.is_pipeline:
        return result
    if expected is not None and result.fingerprint is not None:
        result = replace(
            result,
            fingerprint_matches=result.fingerprint == expected,
            samples_match=result.fingerprint.same_samples(expected),
        )
    if ceiling is not None and result.samples_per_s is not None:
        result = replace(result, ceiling_fraction=result.samples_per_s / ceiling.samples_per_s)
    return result


def with_results(
    run: RunResult, results: Sequence[ScenarioResult], interrupted: bool = False
) -> RunResult:
    """``run`` holding ``results``, with the recommendation they lead to."""
    expected = run.expected_fingerprint
    pick = recommend(
        results,
        run.settings.idle_condition(),
        None if expected is None else expected.sample_kind,
        run.reference,
    )
    return replace(run, scenarios=tuple(results), interrupted=interrupted, recommendation=pick)
