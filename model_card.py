"""The ``README.md`` model card ``export.py`` writes beside the weights.

Bare weights lose what the run knew: the prompt the model answers, the markers it writes, the
data and settings it was trained with, how well it did. The card records them from the run's
own resolved recipe and logged scalars, so it cannot drift from what was trained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from transformers import PreTrainedTokenizerBase

from datamodules.formats import SolutionFormat
from datamodules.pipeline.encoding import encode_spans
from datamodules.sample import Sample

QUESTION = "{question}"  # stands for the user's question in the prompt template
EVALUATED = ("val/", "test/")  # logged scalar tags that are evaluation results
EXAMPLE_QUESTION = "A box holds 12 pens. How many pens are in 7 boxes?"


def prompt_template(format: SolutionFormat) -> str:
    """The text a model of this format continues, with ``{question}`` for the question."""
    sample = Sample(id="card", dataset="card", question=QUESTION)
    return "".join(span.text for span in format.prompt(sample))


def plain_prompt_ids(
    tokenizer: PreTrainedTokenizerBase, format: SolutionFormat, question: str
) -> list[int]:
    """The prompt's ids the way the card tells a plain-transformers user to build them: BOS,
    then the joined prompt text tokenized at once."""
    text = prompt_template(format).replace(QUESTION, question)
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return bos + tokenizer(text, add_special_tokens=False)["input_ids"]


def joined_text_matches(
    tokenizer: PreTrainedTokenizerBase, format: SolutionFormat, question: str
) -> bool:
    """Whether :func:`plain_prompt_ids` gives the ids the project's engine is given (each span
    tokenized on its own, ``datamodules.pipeline.encoding``) for ``question``."""
    spans = format.prompt(Sample(id="card", dataset="card", question=question))
    return plain_prompt_ids(tokenizer, format, question) == encode_spans(spans, tokenizer).input_ids


def evaluation_results(run_dir: Path) -> dict[str, float]:
    """The last value of every evaluation scalar the run logged (none when it logged none)."""
    # tensorboard: imported only when exporting
    from run_logs import read_scalars

    if not any(run_dir.glob("events.out.tfevents.*")):
        return {}
    return {
        tag: points[-1].value
        for tag, points in sorted(read_scalars(run_dir).items())
        if tag.startswith(EVALUATED) and points
    }


def base_model(recipe: dict[str, Any]) -> str:
    network = recipe["model"]["init_args"].get("network", {})
    if network.get("pretrained"):
        return f"fine-tuned from `{network['pretrained']}`"
    architecture = json.dumps(network.get("model_config"), sort_keys=True)
    return f"trained from scratch: `model_config` {architecture}"


def model_card(
    name: str,
    recipe: dict[str, Any],
    format: SolutionFormat,
    tokenizer: PreTrainedTokenizerBase,
    ckpt_path: Path,
    results: dict[str, float],
) -> str:
    """The card's Markdown text; ``name`` is the folder, as a user passes it to
    ``from_pretrained``."""
    model = recipe["model"]
    format_name = type(format).__name__
    template = prompt_template(format)
    bos = "tokenizer.bos_token + " if tokenizer.bos_token is not None else ""
    if joined_text_matches(tokenizer, format, EXAMPLE_QUESTION):
        ids = "tokenizing the joined text gives the same ids (checked at export on the example)."
    else:
        ids = "tokenizing the joined text gives different ids for the example: tokenize per span."
    lines = [
        f"# {Path(name).name}",
        "",
        f"A causal language model trained by thinkcode's `{model['class_path']}` to reason with "
        f"code, exported by `export.py` from `{ckpt_path}`. Base model: {base_model(recipe)}.",
        "",
        "## Format",
        "",
        f"`{format_name}`: special tokens {', '.join(f'`{t}`' for t in format.special_tokens)}"
        f"; the model continues this prompt ({QUESTION} is the question):",
        "",
        "```text",
        template,
        "```",
        "",
        "The project tokenizes each span of the prompt on its own, after the tokenizer's BOS "
        f"token (`datamodules.pipeline.encoding.encode_spans`); {ids}",
        "",
        "## Generate with plain transformers",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f'tokenizer = AutoTokenizer.from_pretrained("{name}")',
        f'model = AutoModelForCausalLM.from_pretrained("{name}")',
        f"prompt = {bos}{template!r}.format(question={EXAMPLE_QUESTION!r})",
        "inputs = tokenizer(prompt, return_tensors='pt', add_special_tokens=False)",
        "output = model.generate(**inputs, max_new_tokens=256, do_sample=False)",
        "print(tokenizer.decode(output[0, inputs.input_ids.shape[1]:], skip_special_tokens=False))",
        "```",
        "",
        "Plain `generate` does not run code: the answer is what the generated program prints "
        "when you run it (in a sandbox: it is untrusted).",
        "",
        "## Run code rounds with thinkcode",
        "",
        "From a checkout of the project, the generation engine generates, runs each program in "
        "its sandbox and grades the printed answer:",
        "",
        "```bash",
        f"python main.py test --config {name}/config.yaml --config configs/eval/htl_benchmarks.yaml"
        f" \\\n    --model.init_args.network.pretrained {name} "
        "--model.init_args.network.model_config null",
        "```",
        "",
        f"`{name}/config.yaml` is the recipe below, saved beside the weights; `configs/eval/` "
        "holds the evaluation recipes, `docs/evaluation.md` explains them.",
        "",
        "## Evaluation recorded by the run",
        "",
    ]
    if results:
        lines += ["| metric | last value |", "|---|---:|"]
        lines += [f"| `{tag}` | {value:.4f} |" for tag, value in results.items()]
    else:
        lines += ["The run logged no evaluation results."]
    lines += [
        "",
        "## Data",
        "",
        "```yaml",
        yaml.safe_dump({"data": recipe.get("data")}, sort_keys=False).rstrip(),
        "```",
        "",
        "## Recipe",
        "",
        "The run's resolved configuration, also saved as `config.yaml` in this folder:",
        "",
        "```yaml",
        yaml.safe_dump(recipe, sort_keys=False).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_model_card(
    directory: Path,
    recipe: dict[str, Any],
    format: SolutionFormat,
    tokenizer: PreTrainedTokenizerBase,
    ckpt_path: Path,
    run_dir: Path | None,
) -> Path:
    """Writes ``README.md`` and the recipe as ``config.yaml`` into the exported folder."""
    results = evaluation_results(run_dir) if run_dir is not None else {}
    card = model_card(str(directory), recipe, format, tokenizer, ckpt_path, results)
    (directory / "config.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    path = directory / "README.md"
    path.write_text(card, encoding="utf-8")
    return path
