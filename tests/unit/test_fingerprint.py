from __future__ import annotations

import json

import numpy as np

from profiler.base.codec import decode, encode
from profiler.data.fingerprint import Fingerprint, FingerprintBuilder


def _data(n=10):
    rng = np.random.default_rng(0)
    return rng.random((n, 4, 4, 3), dtype=np.float32), np.arange(n, dtype=np.int32)


def _fingerprint(batches):
    builder = FingerprintBuilder()
    for images, labels in batches:
        builder.add_batch(images, labels)
    return builder.build()


def test_order_and_batching_do_not_matter():
    images, labels = _data()
    straight = _fingerprint(
        [(images[:4], labels[:4]), (images[4:8], labels[4:8]), (images[8:], labels[8:])]
    )
    order = np.random.default_rng(1).permutation(10)
    shuffled = _fingerprint(
        [(images[order][:5], labels[order][:5]), (images[order][5:], labels[order][5:])]
    )
    assert straight.checksum == shuffled.checksum
    assert straight.samples == shuffled.samples == 10


def test_any_changed_dropped_or_duplicated_sample_changes_the_checksum():
    images, labels = _data()
    reference = _fingerprint([(images, labels)]).checksum
    changed = images.copy()
    changed[3, 1, 1, 0] = np.nextafter(changed[3, 1, 1, 0], 2.0)  # one ulp
    assert _fingerprint([(changed, labels)]).checksum != reference
    relabelled = labels.copy()
    relabelled[0] = 99
    assert _fingerprint([(images, relabelled)]).checksum != reference
    assert _fingerprint([(images[:9], labels[:9])]).checksum != reference
    duplicated = _fingerprint([(images, labels), (images[:1], labels[:1])])
    assert duplicated.checksum != reference and duplicated.samples == 11


def test_dtype_and_shape_are_recorded():
    images, labels = _data()
    as_float64 = _fingerprint([(images.astype(np.float64), labels)])
    assert as_float64.image_dtype == "float64"
    assert as_float64 != _fingerprint([(images, labels)])
    mixed = _fingerprint([(images[:2], labels[:2]), (images[2:4, :2], labels[2:4])])
    assert mixed.image_shape == ("mixed",)


def test_round_trip():
    images, labels = _data()
    fingerprint = _fingerprint([(images, labels)])
    assert decode(Fingerprint, json.loads(json.dumps(encode(fingerprint)))) == fingerprint
    assert len(fingerprint.short) == 8
