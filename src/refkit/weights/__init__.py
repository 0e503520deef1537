"""Model weights: per-file digests, signatures, verity disks, and what binds them."""
