"""Grading: what one response earns, decided by rules a reader can check and without a model.

Answer extraction and matching (``extraction``, ``normalize``, ``answers``, with sympy kept to a
time-bounded helper process: ``symbolic``), verdicts on solutions (``verification``) and on CoGEX
emulations (``emulation``, ``agreement``), behaviour tags (``behaviours``), the one tally behind
majority votes (``votes``), and the agreement with other graders' labels (``conformance``,
``labelled_responses``).

It reads the data layer's records and the sandbox's results but never generates: generation and
everything that solves, counts or trains sits above it (``tests/test_import_layers.py``).
"""
