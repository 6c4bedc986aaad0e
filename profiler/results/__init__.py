"""Layer 4, both sides: the records a measurement produces and their versioned JSON files."""
