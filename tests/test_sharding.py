"""FSDP2 sharding in one process: a world of one gloo rank runs the real ``fully_shard`` code
(hooks, DTensors, mixed precision, checkpoint recomputation) in seconds. The two-process runs
are in tests/test_sharding_fit.py."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
import yaml
from peft import LoraConfig, get_peft_model
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import FSDPModule
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel
from transformers.distributed.fsdp import is_fsdp_managed_module

from export import load_weights
from lightning_modules.sharding import (
    ShardedModelMixin,
    data_parallel_mesh,
    decoder_layers,
    inner_pretrained_model,
    shard_causal_lm,
)
from main import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 64,
    "max_position_embeddings": 64,
}


def tiny_model(model_type: str = "llama", seed: int = 0) -> PreTrainedModel:
    torch.manual_seed(seed)
    config = AutoConfig.for_model(model_type, **TINY)
    return AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> DeviceMesh:
    """Lightning's 2-D mesh over a world of one rank; the process group is gone afterwards."""
    store = dist.FileStore(str(tmp_path_factory.mktemp("store") / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    yield init_device_mesh("cpu", (1, 1), mesh_dim_names=("data_parallel", "tensor_parallel"))
    dist.destroy_process_group()


def batch(seed: int = 1) -> dict[str, torch.Tensor]:
    ids = torch.randint(
        0, TINY["vocab_size"], (2, 12), generator=torch.Generator().manual_seed(seed)
    )
    return {"input_ids": ids, "labels": ids}


@pytest.mark.parametrize("model_type", ["llama", "mistral", "qwen2"])
def test_decoder_layers_are_the_blocks_transformers_never_splits(model_type: str) -> None:
    model = tiny_model(model_type)
    assert decoder_layers(model) == list(model.model.layers)[::-1]


def test_decoder_layers_are_found_inside_a_lora_model() -> None:
    base = tiny_model()
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    assert inner_pretrained_model(lora) is base
    assert decoder_layers(lora) == list(base.model.layers)[::-1]


def test_a_model_without_block_classes_is_refused() -> None:
    model = tiny_model()
    model._no_split_modules = []
    with pytest.raises(ValueError, match="LlamaForCausalLM names no decoder layer class"):
        decoder_layers(model)


class TwoByTwoMesh:
    """Stands for a 2 x 2 mesh (four ranks are too many to start here)."""

    def __getitem__(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(size=lambda: 2)


def test_tensor_parallelism_is_refused_with_the_setting_to_change() -> None:
    with pytest.raises(ValueError, match="set the strategy's tensor_parallel_size to 1"):
        data_parallel_mesh(TwoByTwoMesh())


def test_sharded_model_computes_what_the_unsharded_one_does(mesh: DeviceMesh) -> None:
    model = tiny_model()
    reference = copy.deepcopy(model)
    shard_causal_lm(model, data_parallel_mesh(mesh))

    assert isinstance(model, FSDPModule)
    assert all(isinstance(layer, FSDPModule) for layer in model.model.layers)
    assert is_fsdp_managed_module(model)  # generate() then defaults to synced_gpus=True
    sharded_loss = model(**batch()).loss
    reference_loss = reference(**batch()).loss
    torch.testing.assert_close(sharded_loss, reference_loss)
    sharded_loss.backward()
    reference_loss.backward()
    sharded_grad = model.model.layers[1].mlp.up_proj.weight.grad.full_tensor()
    torch.testing.assert_close(sharded_grad, reference.model.layers[1].mlp.up_proj.weight.grad)


def test_mixed_precision_computes_in_bf16_on_fp32_master_weights(mesh: DeviceMesh) -> None:
    model = tiny_model().to(torch.bfloat16)  # as a checkpoint stored in bf16 loads
    shard_causal_lm(model, data_parallel_mesh(mesh), mixed_precision=True)
    seen = []
    projection = model.model.layers[0].mlp.down_proj
    projection.register_forward_pre_hook(lambda module, args: seen.append(module.weight.dtype))

    model(**batch()).loss.backward()

    assert seen == [torch.bfloat16]
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {p.grad.dtype for p in model.parameters()} == {torch.float32}


def test_mixed_precision_leaves_a_frozen_lora_base_as_loaded(mesh: DeviceMesh) -> None:
    base = tiny_model().to(torch.bfloat16)
    model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    shard_causal_lm(model, data_parallel_mesh(mesh), mixed_precision=True)

    model(**batch()).loss.backward()

    trained = {p.dtype for p in model.parameters() if p.requires_grad}
    frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
    assert (trained, frozen) == ({torch.float32}, {torch.bfloat16})


def test_lora_with_checkpointed_layers_trains_sharded_like_unsharded(mesh: DeviceMesh) -> None:
    base = tiny_model()
    base.gradient_checkpointing_enable({"use_reentrant": False})
    model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    reference = copy.deepcopy(model)
    shard_causal_lm(model, data_parallel_mesh(mesh))
    for network in (model, reference):
        network.train()
        network(**batch()).loss.backward()

    trained = {n: p for n, p in model.named_parameters() if p.grad is not None}
    expected = {n: p for n, p in reference.named_parameters() if p.grad is not None}
    assert trained.keys() == expected.keys()
    assert trained and all("lora_" in name for name in trained)
    for name, parameter in trained.items():
        torch.testing.assert_close(parameter.grad.full_tensor(), expected[name].grad)


class Holder(ShardedModelMixin, L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.model = tiny_model()


class PolicyWithCritic(ShardedModelMixin, L.LightningModule):
    """PPO's shape: a frozen reference copy, a value head, and an optional module left unset."""

    sharded_models = ("model", "reference", "draft")
    sharded_heads = ("value_head",)

    def __init__(self) -> None:
        super().__init__()
        self.model = tiny_model()
        self.reference = copy.deepcopy(self.model).requires_grad_(False)
        self.draft = None
        self.value_head = torch.nn.Linear(TINY["hidden_size"], 1)


def test_the_mixin_shards_once_under_a_mesh_and_never_without(mesh: DeviceMesh) -> None:
    holder = Holder()
    holder.trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    holder.configure_model()  # no mesh: a single device or DDP
    assert not isinstance(holder.model, FSDPModule)

    holder._device_mesh = mesh
    holder.configure_model()
    sharded_layer = holder.model.model.layers[0]
    holder.configure_model()  # Lightning calls it again for every stage
    assert isinstance(holder.model, FSDPModule)
    assert holder.model.model.layers[0] is sharded_layer


def test_the_mixin_shards_every_named_model_and_head(mesh: DeviceMesh) -> None:
    module = PolicyWithCritic()
    module.trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    module._device_mesh = mesh
    module.configure_model()
    for network in (module.model, module.reference):
        assert isinstance(network, FSDPModule)
        assert all(isinstance(layer, FSDPModule) for layer in network.model.layers)
    assert isinstance(module.value_head, FSDPModule)
    assert module.draft is None


def test_export_reads_a_sharded_checkpoint_folder(mesh: DeviceMesh, tmp_path: Path) -> None:
    trained = tiny_model(seed=1)
    shard_causal_lm(trained, data_parallel_mesh(mesh))
    folder = tmp_path / "last.ckpt"
    dcp.save({"state_dict": trained.state_dict(), "optimizer_0": {}}, checkpoint_id=folder)

    fresh = tiny_model(seed=2)
    load_weights(fresh, folder)

    expected = {name: tensor.full_tensor() for name, tensor in trained.state_dict().items()}
    torch.testing.assert_close(fresh.state_dict(), expected)
    with pytest.raises(FileNotFoundError, match="no checkpoint file or sharded checkpoint folder"):
        load_weights(fresh, tmp_path / "missing.ckpt")


@pytest.mark.parametrize(
    ("base", "layer", "root"),
    [
        ("quickstart.yaml", "fsdp/sft_fsdp.yaml", "runs/htl_sft_fsdp"),
        ("htl/ppo.yaml", "fsdp/ppo_fsdp.yaml", "runs/htl_ppo_fsdp"),
    ],
)
def test_fsdp_recipes_layer_sharding_over_their_base(
    base: str, layer: str, root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "fit",
                "--config",
                str(CONFIGS / base),
                "--config",
                str(CONFIGS / layer),
                "--print_config",
            ]
        )
    assert exit_info.value.code == 0
    trainer = yaml.safe_load(capsys.readouterr().out)["trainer"]
    strategy = trainer["strategy"]
    assert strategy["class_path"] == "lightning.pytorch.strategies.ModelParallelStrategy"
    assert strategy["init_args"]["tensor_parallel_size"] == 1
    assert strategy["init_args"]["data_parallel_size"] == trainer["devices"] * trainer["num_nodes"]
    assert (trainer["precision"], trainer["default_root_dir"]) == ("bf16-mixed", root)
