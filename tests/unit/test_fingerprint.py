from __future__ import annotations

import json
from dataclasses import replace

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


def _channels_apart(n=64):
    """Images whose three channels have means far apart (0.2, 0.5, 0.8), as photos often do."""
    rng = np.random.default_rng(2)
    base = np.array([0.2, 0.5, 0.8], dtype=np.float32)
    images = np.clip(base + rng.normal(0, 0.1, (n, 8, 8, 3)), 0, 1).astype(np.float32)
    return images, np.arange(n, dtype=np.int32) % 5


def test_pixels_one_rounding_apart_are_close_and_other_pixels_are_not():
    images, labels = _channels_apart()
    expected = _fingerprint([(images, labels)])
    rng = np.random.default_rng(3)
    # A decoder that rounds a third of the pixels one level of 255 up or down.
    rounded = images + (rng.random(images.shape) < 1 / 3) * rng.choice([-1, 1], images.shape) / 255
    close = _fingerprint([(rounded.astype(np.float32), labels)])
    assert close.checksum != expected.checksum
    assert close.pixels_close(expected) is True and close.same_samples(expected)
    for other in (
        np.zeros_like(images),  # nothing decoded
        images * 255,  # another scale
        images[..., ::-1],  # channels swapped (RGB read as BGR)
        np.repeat(images[:1], len(images), axis=0),  # one image over and over
    ):
        delivered = _fingerprint([(np.ascontiguousarray(other), labels)])
        assert delivered.pixels_close(expected) is False
        assert not delivered.same_samples(expected)


def test_the_sums_change_neither_equality_nor_a_fingerprint_kept_without_them():
    images, labels = _channels_apart()
    straight = _fingerprint([(images[:32], labels[:32]), (images[32:], labels[32:])])
    order = np.random.default_rng(4).permutation(len(images))
    shuffled = _fingerprint(
        [(images[order][:32], labels[order][:32]), (images[order][32:], labels[order][32:])]
    )
    assert straight == shuffled  # the sums, added in another order, may differ in the last bits
    assert straight.channel_sums and len(straight.channel_squares) == 3
    older = replace(straight, channel_sums=(), channel_squares=())
    assert older.pixels_close(straight) is None and older.same_samples(straight)
    again = decode(Fingerprint, json.loads(json.dumps(encode(straight))))
    assert again == straight
    assert (again.channel_sums, again.channel_squares) == (
        straight.channel_sums,
        straight.channel_squares,
    )


def test_pixels_with_a_nan_are_never_close():
    images, labels = _channels_apart()
    expected = _fingerprint([(images, labels)])
    broken = images.copy()
    broken[5, 3, 3, 1] = np.nan  # a 0/0 in a normalisation, say
    delivered = _fingerprint([(broken, labels)])
    assert delivered.pixels_finite is False and delivered.channel_sums == ()
    assert delivered.pixels_close(expected) is False and not delivered.same_samples(expected)
    assert decode(Fingerprint, json.loads(json.dumps(encode(delivered)))).pixels_finite is False
