"""Layer 1, both sides: the operating system. Tree memory, the private network, lifelines, signals,
scratch folders, the page cache."""
