"""The numpy CRC-32C against the published check value and a bit-by-bit reference."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.data.crc32c import crc32c, masked_crc32c
from tests import userfiles


def test_the_check_value_of_the_standard():
    # CRC-32C's check value (RFC 3720, appendix B.4): the nine ASCII digits.
    assert crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 63, 64, 255, 256, 257, 1000, 4096, 4097, 20011])
def test_every_size_agrees_with_the_bit_by_bit_reference(size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert crc32c(data) == userfiles._crc32c(data)
    assert masked_crc32c(data).to_bytes(4, "little") == userfiles._masked(data)


def test_one_flipped_bit_changes_it():
    data = bytearray(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    before = crc32c(bytes(data))
    data[2500] ^= 0x10
    assert crc32c(bytes(data)) != before
