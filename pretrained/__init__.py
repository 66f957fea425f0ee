"""Where a named model lives, for both its tokenizer (``datamodules``) and its network
(``lightning_modules``): the cache root, ``package:file`` and GGUF resolution. It imports no
other package of the project, so data and models both build on it without a cycle."""
