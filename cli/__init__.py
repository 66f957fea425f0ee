"""What every entry point shares (``main.py``, ``export.py``, ``cotacs.py``, ``scripts/``,
``benchmarks/``): a user's mistake is one line on stderr, a bug keeps its traceback, and an
unreachable Hugging Face Hub fails in seconds instead of minutes of retries."""
