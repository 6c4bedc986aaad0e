"""Layer 8, parent side: the library calls that measure: a run, a sweep, a tuning, a scale
measurement."""
