"""Settings of the vLLM decoding backend, apart from the backend so that recipes, the CLI and
``--print_config`` need no vLLM installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from checks import InputError, require_at_least


@dataclass
class VLLMOptions:
    """The in-process vLLM engine (colocated with the trainer, as TRL's colocate mode).

    Args:
        dtype: the engine's weights and activations (bfloat16: the CPU's AVX-512 bf16 path).
        kv_cache_gb: KV-cache space on CPU (vLLM's ``VLLM_CPU_KVCACHE_SPACE``; a value already
            in the environment wins).
        gpu_memory_utilization: share of the GPU the engine may take (training shares it).
        max_num_seqs: sequences decoded at once (continuous batching's width).
        max_model_len: longest prompt + response (None: the model's own limit).
        enforce_eager: skip graph compilation (faster start-up, slower decoding; tests).
    """

    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    kv_cache_gb: int = 4
    gpu_memory_utilization: float = 0.3
    max_num_seqs: int = 256
    max_model_len: int | None = None
    enforce_eager: bool = False

    def __post_init__(self) -> None:
        require_at_least(self, 1, ("kv_cache_gb", "max_num_seqs", "max_model_len"), "vllm")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise InputError(
                f"vllm.gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}"
            )
