"""Benchmarks (not tests): `python -m bench` or `make bench` prints a table and writes JSON."""
