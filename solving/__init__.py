"""Solving problems: generation and grading together, attempt after attempt (HTL's fallback
cascade re-asks an unanswered problem for a program alone, then for words alone).

It sits above both ``generation`` (which only generates and runs code) and ``grading`` (which
only judges), because each attempt is graded to decide whether to make the next.
"""
