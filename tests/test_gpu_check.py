"""The GPU check script, as far as a machine without a GPU can take it: the script parses, and
its summary reads the run folders the way the script leaves them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "gpu_check.sh")], check=True)


def test_the_summary_reads_steps_and_evaluation_records(tmp_path: Path):
    (tmp_path / "steps.txt").write_text("fsdp_bf16_sft 0 95\nvllm_eval 124 150\n")
    run = tmp_path / "eval" / "htl_subsets" / "version_0"
    run.mkdir(parents=True)
    records = [
        {"correct": True, "generated_tokens": 30},
        {"correct": False, "generated_tokens": 50},
    ]
    (run / "evaluation_samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    results = tmp_path / "summary.json"
    command = [sys.executable, "-m", "benchmarks.reports.gpu_check_summary", tmp_path, results]
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True)  # as the script runs it
    summary = json.loads(results.read_text())
    assert summary["steps"] == {
        "fsdp_bf16_sft": {"exit_status": 0, "wall_s": 95},
        "vllm_eval": {"exit_status": 124, "wall_s": 150},  # timed out: recorded, not hidden
    }
    assert summary["eval"] == {"problems": 2, "exec_acc": 50.0, "generated_tokens": 80}
    assert summary["sft"] == {} and summary["grpo"] == {}
