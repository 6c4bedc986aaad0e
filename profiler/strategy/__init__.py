"""Layer 3, both sides: the plugin API every strategy implements, the pipeline adapter and the registry that finds them."""
