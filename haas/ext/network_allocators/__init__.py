"""Network allocators."""
