"""From samples to batches: tokenizers (``tokenizer``), spans to token ids and padded batches
(``encoding``), length grouping and packing (``packing``), streamed training data (``streaming``)
and the RL curriculum's prompt sampler (``curriculum``)."""
