"""What a batch holds: its real samples, and what is wrong with an element that is not a batch."""

from __future__ import annotations

from typing import Any


def batch_length(batch: Any) -> int:
    """Real samples in a batch (a partial last batch counts what it holds)."""
    try:
        return int(batch[1].shape[0])
    except (TypeError, IndexError, KeyError, AttributeError):
        raise ValueError(bad_batch(batch)) from None


def bad_batch(batch: Any) -> str:
    """What is wrong with an element that is not a batch of (images, labels), and the fix."""
    if isinstance(batch, dict):
        return (
            f"each element is a dict ({', '.join(map(str, batch))}): deliver (images, labels) "
            "pairs, such as with .map(lambda d: (d['image'], d['label']))"
        )
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        parts = f"{len(batch)} parts" if isinstance(batch, tuple | list) else type(batch).__name__
        return f"each element must be a pair (images, labels); got {parts}"
    images, labels = batch
    if isinstance(images, dict):
        return (
            f"the inputs are a dict ({', '.join(map(str, images))}): the profiler measures "
            "(images, labels) batches; return the images tensor as the first part"
        )
    shape = getattr(labels, "shape", None)
    if shape is None or len(tuple(shape)) == 0:  # numpy's () or TensorFlow's TensorShape([])
        return (
            "each element is one sample (its labels have no batch dimension): add .batch(N) to the "
            "pipeline"
        )
    return (
        f"each element must be a pair of arrays (images, labels); got {type(images).__name__} and "
        f"{type(labels).__name__}"
    )
