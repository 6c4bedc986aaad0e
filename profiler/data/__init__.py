"""Layer 2, both sides: the data a pipeline reads. Generated datasets and their cache, sample work, fingerprints, a user's own data."""
