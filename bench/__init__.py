"""Benchmarks of the eight scenarios in the performance design: ``make bench``
(quick scale) or ``make bench SCALE=full``. See ``bench/run.py``."""
