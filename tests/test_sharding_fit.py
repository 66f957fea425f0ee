"""Sharded training end to end, in real processes on the CPU (gloo): ``main.py fit`` with
``ModelParallelStrategy`` on 2 ranks, its losses against one unsharded process, resume from the
sharded checkpoint, export of a consolidated Hugging Face folder, two simulated nodes launched
by ``torchrun``, and sharded generation with ranks that finish at different steps.

Every training record is the same sample, so every sequence has the same length and no padding:
the mean of two ranks' losses is then exactly the loss of their global batch, and the sharded
run must follow the single process step for step (up to float summation order).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
import torch.multiprocessing as mp
import yaml
from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
from torch.distributed.device_mesh import init_device_mesh
from transformers import AutoConfig, AutoModelForCausalLM

from datamodules.generators.synthetic import generate_problems
from export import export
from lightning_modules.sharding import shard_causal_lm
from tests.gloo import gloo_group

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = str(REPO / "configs" / "quickstart.yaml")
RUN_TIMEOUT_S = 300  # a deadlocked rank shows up as a timeout, not as a hung test session
STRATEGY = [  # FSDP over every rank
    "--trainer.strategy=lightning.pytorch.strategies.ModelParallelStrategy",
    "--trainer.strategy.data_parallel_size=2",
    "--trainer.strategy.tensor_parallel_size=1",
]
# 2 ranks x 2 sequences = the single process's batch of 4
SHARDED = ["--trainer.devices=2", *STRATEGY, "--data.batch_size=2"]

pytestmark = pytest.mark.slow


class LossLog(L.Callback):
    """Appends every rank's training loss after each optimizer step to a jsonl file."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        record = {"rank": trainer.global_rank, "step": trainer.global_step}
        with self.path.open("a") as log:
            log.write(json.dumps(record | {"loss": float(outputs["loss"])}) + "\n")


def read_losses(path: Path) -> dict[int, list[float]]:
    """Step -> the losses every rank logged for it."""
    losses: dict[int, list[float]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        losses.setdefault(record["step"], []).append(record["loss"])
    return dict(sorted(losses.items()))


def write_recipe(folder: Path, log: Path) -> Path:
    """A layer over the quickstart: a 2-layer model, one sample repeated, dense, constant LR."""
    sample = next(iter(generate_problems(seed=5, count=1)))
    data = folder / "train.jsonl"
    records = [asdict(sample) | {"id": f"copy-{index}"} for index in range(32)]
    data.write_text("".join(json.dumps(record) + "\n" for record in records))
    recipe = {
        "trainer": {
            "accelerator": "cpu",
            "max_time": None,
            "val_check_interval": 2,
            "log_every_n_steps": 1,
            "logger": False,
            "callbacks": [
                {
                    "class_path": "callbacks.mask_coverage.MaskCoverage",
                    "init_args": {"schedule": "none"},
                },
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {"filename": "last", "enable_version_counter": False},
                },
                {"class_path": "tests.test_sharding_fit.LossLog", "init_args": {"path": str(log)}},
            ],
        },
        "model": {
            "init_args": {
                "network": {
                    "model_config": {
                        "model_type": "llama",
                        "hidden_size": 32,
                        "intermediate_size": 64,
                        "num_hidden_layers": 2,
                        "num_attention_heads": 4,
                        "num_key_value_heads": 2,
                        "max_position_embeddings": 512,
                    }
                },
                "optimization": {  # the same rate whatever max_steps says
                    "lr_schedule": "constant_with_warmup",
                    "warmup_ratio": 0.0,
                },
                "evaluation": {"generation": {"max_new_tokens": 12}},
            }
        },
        "data": {
            "train": {
                "class_path": "datamodules.sources.files.SampleFile",
                "init_args": {"path": str(data)},
            },
            "val": {
                "class_path": "datamodules.sources.synthetic.SyntheticProblems",
                "init_args": {"count": 4},
            },
            "format": {
                "class_path": "datamodules.formats.HTLFormat",
                "init_args": {"insert_ratio": 0.0},
            },
            "vocab_size": 400,
            "batch_size": 4,
            "eval_batch_size": 2,
        },
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def start(command: list[str]) -> subprocess.Popen:
    """A command in its own process group, so that a timeout can stop every rank it started."""
    return subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(processes: list[subprocess.Popen]) -> None:
    """Waits for every process to succeed; a deadlocked rank shows up as a failed timeout."""
    try:
        outputs = [process.communicate(timeout=RUN_TIMEOUT_S)[0] for process in processes]
    except subprocess.TimeoutExpired:
        pytest.fail(f"ran past {RUN_TIMEOUT_S} s: a deadlock?")
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-5000:]


def fit_command(recipe: Path, root: Path, *flags: str) -> list[str]:
    """``main.py fit`` over the quickstart and a layer, run from the repository root."""
    return [
        "main.py",
        "fit",
        "--config",
        QUICKSTART,
        "--config",
        str(recipe),
        f"--trainer.default_root_dir={root}",
        *flags,
    ]


def fit(folder: Path, name: str, *flags: str) -> Path:
    """Fits with the test layer in ``folder/name``; returns that folder."""
    root = folder / name
    root.mkdir()
    recipe = write_recipe(root, root / "losses.jsonl")
    finish([start([sys.executable, *fit_command(recipe, root, *flags)])])
    return root


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[float]]:
    """Six steps of one unsharded process: the reference losses."""
    root = fit(
        tmp_path_factory.mktemp("single"),
        "run",
        "--trainer.max_steps=6",
        "--trainer.limit_val_batches=0",
    )
    return read_losses(root / "losses.jsonl")


def test_sharded_fit_matches_one_process_resumes_and_exports(
    single: dict[int, list[float]], tmp_path: Path
) -> None:
    first = fit(tmp_path, "first", *SHARDED, "--trainer.max_steps=4")  # validates at 2 and 4
    checkpoint = first / "checkpoints" / "last.ckpt"
    assert sorted(path.name for path in checkpoint.glob("*.distcp")) == [
        "__0_0.distcp",
        "__1_0.distcp",
    ]
    resumed = fit(
        tmp_path, "resumed", *SHARDED, "--trainer.max_steps=6", f"--ckpt_path={checkpoint}"
    )

    sharded = read_losses(first / "losses.jsonl") | read_losses(resumed / "losses.jsonl")
    assert list(sharded) == [1, 2, 3, 4, 5, 6]  # the resumed run went on at step 5
    assert all(len(losses) == 2 for losses in sharded.values())  # both ranks trained every step
    for step, losses in sharded.items():  # optimizer state included: steps 5 and 6 match too
        assert sum(losses) / 2 == pytest.approx(single[step][0], rel=1e-5), step
    assert single[6][0] < single[1][0]  # and it did learn

    exported = export(resumed / "checkpoints" / "last.ckpt", tmp_path / "hf")
    model = AutoModelForCausalLM.from_pretrained(exported)
    dcp_to_torch_save(resumed / "checkpoints" / "last.ckpt", tmp_path / "consolidated.pt")
    saved = torch.load(tmp_path / "consolidated.pt", weights_only=False)["state_dict"]
    for name, weight in model.state_dict().items():
        torch.testing.assert_close(weight, saved[f"model.{name}"])


def test_ppo_trains_sharded_with_its_reference_and_value_head(tmp_path: Path) -> None:
    """Full fine-tuning PPO: the policy, its frozen reference copy and the value head are all
    sharded (an unsharded value head would mix plain tensors into the sharded gradient norm)."""
    tiny = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    flags = [f"--model.init_args.network.model_config.{key}={value}" for key, value in tiny.items()]
    ppo_recipe = REPO / "configs" / "quickstart_ppo.yaml"
    command = fit_command(
        ppo_recipe,
        tmp_path,
        "--model.init_args.init_checkpoint=null",
        "--model.init_args.ppo.minibatch_size=2",
        "--model.init_args.rollout.max_new_tokens=12",
        "--model.init_args.evaluation.generation.max_new_tokens=12",
        *flags,
        "--data.init_args.train.init_args.count=64",
        "--data.init_args.val.init_args.count=4",
        "--data.init_args.vocab_size=400",
        "--data.init_args.batch_size=2",
        "--data.init_args.eval_batch_size=2",
        "--trainer.accelerator=cpu",
        "--trainer.devices=2",
        *STRATEGY,
        "--trainer.max_steps=4",  # one rollout batch: 4 PPO epochs of one minibatch ...
        "--trainer.max_time=null",
        "--trainer.val_check_interval=1",  # ... then validation and a checkpoint
        "--trainer.num_sanity_val_steps=0",
        "--trainer.limit_val_batches=1",
        f"--trainer.default_root_dir={tmp_path}",
    )
    finish([start([sys.executable, *command])])
    shards = sorted(path.name for path in tmp_path.glob("version_0/checkpoints/last.ckpt/*.distcp"))
    assert shards == ["__0_0.distcp", "__1_0.distcp"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_nodes_launched_by_torchrun_train_like_one_process(
    single: dict[int, list[float]], tmp_path: Path
) -> None:
    """Two ``torchrun`` launches, one process each, meet on 127.0.0.1 as node 0 and node 1."""
    root = tmp_path / "nodes"
    root.mkdir()
    recipe = write_recipe(root, root / "losses.jsonl")
    port = free_port()
    command = fit_command(
        recipe,
        root,
        "--trainer.num_nodes=2",
        "--trainer.devices=1",
        *STRATEGY,
        "--data.batch_size=2",
        "--trainer.max_steps=2",
        "--trainer.limit_val_batches=0",
    )
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1"]
    address = ["--master_addr=127.0.0.1", f"--master_port={port}"]
    finish([start([*launcher, f"--node_rank={node}", *address, *command]) for node in (0, 1)])

    losses = read_losses(root / "losses.jsonl")
    assert list(losses) == [1, 2]
    for step, pair in losses.items():
        assert len(pair) == 2
        assert sum(pair) / 2 == pytest.approx(single[step][0], rel=1e-5)


def generate_on_rank(rank: int, rendezvous: Path, results: Any) -> None:
    """Rank 0 wants 3 new tokens, rank 1 wants 9: rank 0 must keep stepping (synced) for rank 1."""
    with gloo_group(rank, rendezvous):
        torch.manual_seed(0)
        config = AutoConfig.for_model(
            "llama",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=64,
        )
        model = AutoModelForCausalLM.from_config(config).eval()
        mesh = init_device_mesh("cpu", (2, 1), mesh_dim_names=("data_parallel", "tensor_parallel"))
        shard_causal_lm(model, mesh["data_parallel"])
        prompt = torch.arange(1 + rank, 6 + rank).unsqueeze(0)
        wanted = 3 if rank == 0 else 9
        output = model.generate(prompt, max_new_tokens=wanted, do_sample=False, eos_token_id=None)
        results.put((rank, output.shape[1] - prompt.shape[1]))


def test_sharded_generation_survives_ranks_finishing_at_different_steps(tmp_path: Path) -> None:
    context = mp.get_context("spawn")
    results = context.SimpleQueue()
    mp.start_processes(
        generate_on_rank, args=(tmp_path / "rendezvous", results), nprocs=2, start_method="spawn"
    )
    generated = dict(results.get() for _ in range(2))
    assert generated == {0: 3, 1: 9}
