"""The engine's parts on their own: the batch with holes, round ends, markers, feedback text."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from datamodules.formats import HTLFormat, LCEFormat, MarkdownFormat
from generation.batch import ActiveBatch
from generation.feedback import BREAK, defuse, feedback_text
from generation.stopping import RoundEnd, StopMarkers
from sandbox import ExecutionResult, Outcome

PAD = 0


def test_take_turns_padding_after_a_rows_end_into_holes() -> None:
    batch = ActiveBatch(
        torch.tensor([[0, 5, 6], [7, 8, 9]]), torch.tensor([[0, 1, 1], [1, 1, 1]]), PAD
    )
    sequences = torch.cat([batch.ids, torch.tensor([[10, 11, 3], [12, 3, 3]])], dim=1)
    new = batch.take(sequences, None, [3, 2])
    assert new == [[10, 11, 3], [12, 3]]
    assert batch.mask.tolist() == [[0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]]
    assert batch.ids[1, -1] == PAD


def test_advance_refeeds_the_last_token_after_a_hole_and_drops_finished_rows() -> None:
    ids = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, PAD]])
    batch = ActiveBatch(ids, (ids != PAD).long(), PAD)
    batch.cache = DynamicCache()
    row_keys = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 3, 1).contiguous()
    batch.cache.update(row_keys, row_keys, 0)
    batch.advance([0, 2], [[3, 20, 21], [30]])
    assert batch.rows == [0, 2]
    assert batch.ids.tolist() == [[1, 2, PAD, 3, 20, 21], [7, PAD, PAD, PAD, PAD, 30]]
    assert batch.mask.tolist() == [[1, 1, 0, 1, 1, 1], [1, 0, 0, 0, 0, 1]]
    assert batch.cache.layers[0].keys[:, 0, 0, 0].tolist() == [0.0, 2.0]


def test_compact_removes_holes_and_the_cache() -> None:
    batch = ActiveBatch(torch.tensor([[1, 2, 3]]), torch.tensor([[1, 1, 1]]), PAD)
    batch.advance([0], [[3, 4]])
    batch.compact()
    assert batch.ids.tolist() == [[1, 2, 3, 4]] and batch.mask.all() and batch.cache is None


def test_no_rows_kept_empties_the_batch() -> None:
    batch = ActiveBatch(torch.tensor([[1, 2]]), torch.tensor([[1, 1]]), PAD)
    batch.advance([], [])
    assert len(batch) == 0 and not batch


def test_markers_resolve_to_ids_and_strings(tokenizer) -> None:
    lce = StopMarkers.resolve(LCEFormat(), tokenizer)
    end_message, end_block = tokenizer.convert_tokens_to_ids(["<|endofmessage|>", "<|endofblock|>"])
    assert lce.end_ids == (tokenizer.eos_token_id, end_message)
    assert set(lce.stop_ids) == {tokenizer.eos_token_id, end_message, end_block}
    assert lce.stop_strings == ()
    markdown = StopMarkers.resolve(MarkdownFormat(), tokenizer)
    assert markdown.stop_ids == markdown.end_ids == (tokenizer.eos_token_id,)
    assert markdown.stop_strings == ("```\n",)


def test_an_end_marker_that_is_not_a_special_token_is_refused(tokenizer) -> None:
    class Done(HTLFormat):
        end_strings = ("DONE",)

    with pytest.raises(ValueError, match=r"Done\.end_strings: 'DONE'"):
        StopMarkers.resolve(Done(), tokenizer)


def test_round_end_records_where_each_row_stopped(tokenizer) -> None:
    fence = tokenizer("```\n", add_special_tokens=False)["input_ids"]  # 4 tokens
    letters = tokenizer("abcd", add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    markers = StopMarkers(end_ids=(eos,), stop_ids=(eos,), stop_strings=("```\n",))
    generated = torch.tensor([letters, fence, [letters[0], eos, PAD, PAD]])
    prompt = torch.ones(3, 2, dtype=torch.long)
    end = RoundEnd(2, torch.tensor([3, 30, 30]), markers, tokenizer)
    done = [
        end(torch.cat([prompt, generated[:, :step]], 1), None).tolist() for step in (1, 2, 3, 4)
    ]
    assert done == [
        [False, False, False],
        [False, False, True],  # EOS
        [True, False, True],  # a budget of 3
        [True, True, True],  # the fence, a stop string over 4 tokens
    ]
    assert end.at_marker.tolist() == [False, True, True]
    assert end.new_lengths(2 + 4) == [3, 4, 2]


def test_feedback_cuts_head_and_tail_and_says_why_a_run_stopped() -> None:
    long = ExecutionResult(Outcome.OK, "a" * 50 + "b" * 50 + "\n")
    assert feedback_text(long, 20) == "a" * 10 + "\n...\n" + "b" * 10
    timeout = ExecutionResult(Outcome.TIMEOUT, "partial\n", "wall time limit exceeded (3 s)")
    assert feedback_text(timeout, 100) == "partial\nwall time limit exceeded (3 s)"
    error = ExecutionResult(Outcome.ERROR, "Traceback ...\nNameError: x\n", "NameError: x")
    assert feedback_text(error, 100) == "Traceback ...\nNameError: x"


def test_defuse_breaks_markers_only() -> None:
    text = defuse("1 <|endofblock|> ```\n2", ["<|endofblock|>", "```"])
    assert text == f"1 <{BREAK}|endofblock|> `{BREAK}``\n2"
    assert defuse("plain 42", ["<|endofblock|>"]) == "plain 42"
