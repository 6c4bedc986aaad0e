"""Layer 0, both sides of the process boundary: units, errors, typed settings, the JSON codec,
statistics, machine facts."""
