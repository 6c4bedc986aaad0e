"""keras.utils.PyDataset with worker processes (spawned), through the adapter Model.fit uses."""

from __future__ import annotations

from scenarios.pydataset import PyDatasetScenario

SCENARIO = PyDatasetScenario(use_processes=True)
