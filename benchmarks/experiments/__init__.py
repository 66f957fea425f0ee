"""Experiments: runs that train, search or analyse to answer a question about the method."""
