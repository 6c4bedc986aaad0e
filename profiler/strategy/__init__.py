"""Layer 3, both sides: the plugin API. Every strategy, built in or third-party, imports from here.

``from profiler.strategy import Scenario, Knob, PipelineContext, DataSource`` is the one import path
a strategy needs; the names below stay here across releases, wherever their modules move. The
modules of this folder hold the interface (``scenario``), the adapter that measures a user's
pipeline function like a scenario (``pipeline_adapter``, ``pipeline_source``) and the registry that
finds strategies through their entry points (``registry``).
"""

from profiler.base.settings import MeasureSettings, ServiceSettings
from profiler.ceiling.decoder_rates import reduction
from profiler.data.published import publish_folder
from profiler.data.sample_work import augment_table, decode_encoded, max_shift
from profiler.data.synthetic import DataSource, DataSpec
from profiler.strategy.scenario import (
    AUTOTUNE,
    DISPATCHER,
    SERVICE_WORKERS,
    TRAINER,
    Helpers,
    Knob,
    PipelineContext,
    Scenario,
)
from profiler.system.lifeline import Lifeline

__all__ = [
    "AUTOTUNE",
    "DISPATCHER",
    "SERVICE_WORKERS",
    "TRAINER",
    "DataSource",
    "DataSpec",
    "Helpers",
    "Knob",
    "Lifeline",
    "MeasureSettings",
    "PipelineContext",
    "Scenario",
    "ServiceSettings",
    "augment_table",
    "decode_encoded",
    "max_shift",
    "publish_folder",
    "reduction",
]
