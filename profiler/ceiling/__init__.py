"""Layer 3, in a spawned child of its own: what this machine can do at most for this data, by decoder and by stage."""
