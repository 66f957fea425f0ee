"""Where samples come from: each source is a ``SampleSource`` (``base``) that a recipe names by
class path. Files of samples (``files``), the generated problems (``synthetic``), benchmark sets
(``benchmarks``), GSM8K converted to HTL (``gsm8k_htl``), gold reasoning (``gold_reasoning``),
CoGEX tasks and records (``cogex``), and sources made of other sources (``mixture``,
``interpolation``)."""
