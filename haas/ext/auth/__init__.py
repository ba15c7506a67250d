"""Auth backends."""
