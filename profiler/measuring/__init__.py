"""Layer 7, parent side: fresh workers per target, driven through the one measuring procedure, their
figures derived."""
