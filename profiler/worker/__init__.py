"""Layer 5, inside the spawned worker only: the process that builds a pipeline and answers the parent's requests."""
