"""Speed benchmarks: how fast a part of the project runs, against a baseline measured beside it."""
