"""Fidelity checks: whether the project's grading, sandbox and conversions agree with a
reference (published scores, recorded outputs, another grader's labels)."""
