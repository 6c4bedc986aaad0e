"""Units shared by every layer. Memory is counted in MiB (2**20 bytes) throughout: names end in ``_mib``."""

from __future__ import annotations

MIB = float(1 << 20)
