"""FSDP2 sharding of the wrapped causal LM, for Lightning's ``ModelParallelStrategy``.

The strategy builds a device mesh and calls ``configure_model`` on every rank; the mixin then
applies ``fully_shard`` to each decoder layer (one all-gather unit per layer, freed after use)
and finally to the whole model (embeddings, final norm and head). Decoder layers are found
generically: transformers lists, in ``_no_split_modules``, the block classes that must never be
split across devices (``LlamaDecoderLayer``, ``Qwen2DecoderLayer`` ...), which are exactly the
units to shard. peft models are sharded the same way: their LoRA weights live inside those layers.

Without a device mesh (one device, or DDP) nothing changes. Only data parallelism is built:
``tensor_parallel_size`` must be 1 (every rank a data-parallel rank of its own), because the
strategy gives all ranks of a tensor-parallel group the same batches.

Precision follows the trainer: with ``precision: bf16-mixed`` the layers compute with bf16
copies of the sharded weights and reduce gradients in fp32 (``MixedPrecisionPolicy``), and the
optimizer updates fp32 trained weights (frozen ones stay as loaded); Lightning's autocast stays
on around them. Sharded models mark themselves for transformers' ``generate`` to run synced
(every rank steps until all ranks are done), so ranks finishing early do not deadlock. Activation
checkpointing is the module's ``gradient_checkpointing`` switch (transformers' per-layer,
non-reentrant checkpointing), which composes with ``fully_shard``: the recomputation re-gathers
the layer's weights.
"""

from __future__ import annotations

import torch
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from transformers import PreTrainedModel

from checks import InputError

BF16_COMPUTE_FP32_REDUCE = MixedPrecisionPolicy(
    param_dtype=torch.bfloat16, reduce_dtype=torch.float32
)


def inner_pretrained_model(model: torch.nn.Module) -> PreTrainedModel:
    """The transformers model inside ``model`` (itself, or the one a peft wrapper holds)."""
    found = next((m for m in model.modules() if isinstance(m, PreTrainedModel)), None)
    if found is None:
        raise TypeError(f"no transformers PreTrainedModel inside {type(model).__name__}")
    return found


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The blocks transformers never splits (``_no_split_modules``), innermost first so that a
    block nested in another is sharded before its parent."""
    pretrained = inner_pretrained_model(model)
    block_names = set(pretrained._no_split_modules or ())
    layers = [m for m in model.modules() if type(m).__name__ in block_names]
    if not layers:
        raise InputError(
            f"{type(pretrained).__name__} names no decoder layer class in `_no_split_modules` "
            f"({sorted(block_names)}), so it cannot be sharded layer by layer"
        )
    return layers[::-1]


def data_parallel_mesh(mesh: DeviceMesh) -> DeviceMesh:
    """The mesh's data-parallel dimension; refuses tensor parallelism, which is not built."""
    tensor_parallel = mesh["tensor_parallel"].size()
    if tensor_parallel != 1:
        raise InputError(
            f"tensor_parallel_size is {tensor_parallel}, but only data parallelism (FSDP) is "
            "built: set the strategy's tensor_parallel_size to 1 and data_parallel_size to "
            "num_nodes x devices"
        )
    return mesh["data_parallel"]


def precision_policy(module: torch.nn.Module, mixed_precision: bool) -> MixedPrecisionPolicy:
    """The policy for ``module``. Mixed precision computes in bf16 and keeps fp32 master copies
    of the trained weights (loaded in bf16, small updates would round away); frozen weights
    (a LoRA base, a reference model) stay as loaded."""
    if not mixed_precision:
        return MixedPrecisionPolicy()
    for parameter in module.parameters():
        if parameter.requires_grad and parameter.is_floating_point():
            parameter.data = parameter.data.float()
    return BF16_COMPUTE_FP32_REDUCE


def shard_causal_lm(
    model: torch.nn.Module, mesh: DeviceMesh, mixed_precision: bool = False
) -> None:
    """``fully_shard`` each decoder layer, then the root, in place."""
    policy = precision_policy(model, mixed_precision)
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh, mp_policy=policy)
    fully_shard(model, mesh=mesh, mp_policy=policy)  # the root keeps its weights until backward
    # transformers' generate() reads this marker to default to synced_gpus=True: every rank must
    # keep running forward passes (they all-gather weights) until all ranks have finished.
    inner_pretrained_model(model)._is_fsdp_managed_module = True


class ShardedModelMixin:
    """Mixed into a LightningModule: shards the causal LMs named in ``sharded_models`` layer by
    layer, and the other modules named in ``sharded_heads`` (a value head ...) as one unit each,
    so that every trained weight has its gradients reduced across ranks. Attributes that are
    None are skipped (a module without a frozen reference, or without a value head)."""

    sharded_models: tuple[str, ...] = ("model",)
    sharded_heads: tuple[str, ...] = ()

    def configure_model(self) -> None:
        """Called by Lightning on every rank before the optimizer is built, once per stage."""
        mesh = self.device_mesh
        if mesh is None or any(isinstance(m, FSDPModule) for m in self.modules()):
            return
        data_parallel = data_parallel_mesh(mesh)
        mixed_precision = self.trainer.precision == "bf16-mixed"
        for name in self.sharded_models:
            if (model := getattr(self, name)) is not None:
                shard_causal_lm(model, data_parallel, mixed_precision)
        for name in self.sharded_heads:
            if (head := getattr(self, name)) is not None:
                fully_shard(
                    head, mesh=data_parallel, mp_policy=precision_policy(head, mixed_precision)
                )
