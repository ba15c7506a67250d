"""OBM (out-of-band management) drivers."""
