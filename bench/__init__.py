"""Benchmarks: the exposure search over scenario grids, and the frame statistics."""
