"""Benchmarks: per-frame statistics, exposure-search convergence, real-time capture, GUI stalls.

``python -m bench`` runs the four; each is also a command of its own
(``python -m bench.stats`` / ``.convergence`` / ``.capture`` / ``.gui_stall``) with a
readable table on stderr and, with ``--json``, its pinned keys on stdout.
"""
