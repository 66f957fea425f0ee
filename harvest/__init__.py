"""Training data that earns its place by running and grading: which generations of a predict run
become training samples (``generations``), and GSM8K's converted programs kept only when they
print the gold (``verified_gsm8k``).

It sits above ``grading`` and ``sandbox``, so these sources cannot live in ``datamodules``
(whose converters import neither).
"""
