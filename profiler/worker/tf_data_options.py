"""The tf.data options in effect on a worker's final dataset, for the results."""

from __future__ import annotations

from typing import Any

# tf.data's documented defaults for options left unset (reported as None by TensorFlow).
_TF_DATA_DEFAULTS = {"inject_prefetch": True, "autotune": True, "deterministic": True}


def tf_data_options(dataset: Any) -> dict[str, Any]:
    """The tf.data options in effect on the final dataset, and which of them were set explicitly."""
    read = getattr(dataset, "options", None)
    if read is None:
        return {}
    options = read()
    explicit = {
        "inject_prefetch": options.experimental_optimization.inject_prefetch,
        "autotune": options.autotune.enabled,
        "deterministic": options.deterministic,
    }
    effective: dict[str, Any] = {
        name: _TF_DATA_DEFAULTS[name] if value is None else bool(value)
        for name, value in explicit.items()
    }
    effective["explicit"] = sorted(name for name, value in explicit.items() if value is not None)
    return effective
