"""The data layer: where problems come from, how they are rendered, and how they become batches.

- ``sample``: the records a problem travels in (``Sample``, ``Block``, ``Problems``);
  ``numbers`` and ``latex``: what a number is and where a ``\\boxed{}`` answer is, shared with
  grading.
- ``formats/``: how a sample is rendered for training and prompting, and how a generation is read.
- ``generators/``: procedural problem generators, pure functions of their seeds.
- ``sources/``: the sample sources that recipes name (files, benchmark sets, converters, mixtures).
- ``pipeline/``: from samples to batches: tokenizers, encoding, packing, streaming, sampling.
- ``sft`` and ``prompts``: the LightningDataModules (SFT, and RL prompts).

Each room imports only the rooms above it in this list (``tests/test_import_layers.py``).
"""
