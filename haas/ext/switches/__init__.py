"""Switch drivers."""
