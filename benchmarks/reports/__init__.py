"""Report builders: read finished runs (TensorBoard events, per-sample records) and write
their figures to the results."""
