"""The scenarios of the performance design, one module each. A scenario's
``run(bench)`` measures it on the run's stack and appends its rows to
``bench.rows``; what they share is in ``common``. ``bench/run.py`` runs them
in order."""
