#!/bin/bash
# HTL SFT sharded with FSDP2 across nodes, launched by torchrun: run this once on every node,
# with the same MASTER_ADDR (node 0's address) and each node's own NODE_RANK.
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 scripts/torchrun_multinode.sh    # on node 0
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 scripts/torchrun_multinode.sh    # on node 1
# Extra arguments go to main.py (e.g. --ckpt_path <sharded checkpoint folder> to resume).
# Two "nodes" on one machine, as tests/test_sharding_fit.py does: MASTER_ADDR=127.0.0.1.
set -euo pipefail

NNODES=${NNODES:?number of nodes}
NODE_RANK=${NODE_RANK:?this node, 0 to NNODES-1}
MASTER_ADDR=${MASTER_ADDR:?address of node 0}
MASTER_PORT=${MASTER_PORT:-29500}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
BATCH_PER_GPU=4                         # data.batch_size in configs/fsdp/sft_fsdp.yaml
WORLD=$((NNODES * GPUS_PER_NODE))
ACCUMULATE=$((64 / (WORLD * BATCH_PER_GPU)))  # HTL's effective batch 64 ...
ACCUMULATE=$((ACCUMULATE > 0 ? ACCUMULATE : 1))  # ... or more, past 16 GPUs

torchrun --nnodes "${NNODES}" --node_rank "${NODE_RANK}" --nproc_per_node "${GPUS_PER_NODE}" \
    --master_addr "${MASTER_ADDR}" --master_port "${MASTER_PORT}" \
    main.py fit --config configs/quickstart.yaml --config configs/fsdp/sft_fsdp.yaml \
    --trainer.num_nodes "${NNODES}" --trainer.devices "${GPUS_PER_NODE}" \
    --trainer.strategy.init_args.data_parallel_size "${WORLD}" \
    --trainer.accumulate_grad_batches "${ACCUMULATE}" \
    "$@"
