"""Procedural problem generators, each a pure function of its seeds: the arithmetic word problems
(``synthetic``) and the CoGEX tasks (``cogex_tasks``, composed of ``cogex_primitives``)."""
