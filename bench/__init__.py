"""Benchmarks: `python bench/run.py` runs every bench_*.py and writes docs/benchmarks.md and .json."""
