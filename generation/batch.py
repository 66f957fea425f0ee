"""The sequences still generating, kept as one token matrix whose KV cache is reused across rounds.

Each round appends columns; a KV cache covers the columns already fed to the model, so columns
are never moved or deleted while it lives. Instead a token that must not be seen any more (the
padding after a row stopped early, an end marker replaced by budget forcing, a marker fed again)
becomes a hole: pad id, attention mask 0. ``generate`` computes position ids from the attention
mask's cumulative sum, so holes shift no positions: the model sees exactly each row's tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import Cache


class ActiveBatch:
    """Token matrix, attention mask and KV cache of the rows still generating.

    ``rows[i]`` names the trajectory that matrix row ``i`` belongs to. A row's continuation
    must end in a real token (generation continues from the last column), so a row that goes on
    after a marker gets that marker again at the end of its chunk (``advance``).
    """

    def __init__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pad_id: int) -> None:
        self.ids = input_ids.masked_fill(attention_mask == 0, pad_id)
        self.mask = attention_mask.long()
        self.pad_id = pad_id
        self.cache: Cache | None = None
        self.rows = list(range(input_ids.shape[0]))

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def width(self) -> int:
        return self.ids.shape[1]

    def take(
        self, sequences: torch.Tensor, cache: Cache | None, lengths: list[int]
    ) -> list[list[int]]:
        """Adopt one ``generate`` output; return each row's new tokens (the first ``lengths[i]``
        of the new columns). Columns after a row's end become holes."""
        new = sequences[:, self.width :]
        valid = (
            torch.arange(new.shape[1], device=new.device)[None, :]
            < torch.tensor(lengths, device=new.device)[:, None]
        )
        self.ids = torch.cat([self.ids, new.masked_fill(~valid, self.pad_id)], dim=1)
        self.mask = torch.cat([self.mask, valid.long()], dim=1)
        self.cache = cache
        return [row[:length] for row, length in zip(new.tolist(), lengths)]

    def advance(self, keep: Sequence[int], chunks: Sequence[list[int]]) -> None:
        """Keep only the rows at positions ``keep``, each continuing with its chunk of tokens.

        Each kept row's last token (the marker that ended its round) becomes a hole: the chunk
        either repeats it or replaces it (budget forcing).
        """
        if not keep:
            self.rows, self.cache = [], None
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.ids.device)
        ids, mask = self.ids[index], self.mask[index]
        last = mask.shape[1] - 1 - mask.flip(1).argmax(dim=1)
        ids[torch.arange(len(keep)), last] = self.pad_id
        mask[torch.arange(len(keep)), last] = 0
        width = max(len(chunk) for chunk in chunks)
        new_ids = torch.full((len(keep), width), self.pad_id, dtype=ids.dtype)
        new_mask = torch.zeros((len(keep), width), dtype=mask.dtype)
        for row, chunk in enumerate(chunks):
            new_ids[row, width - len(chunk) :] = torch.tensor(chunk, dtype=ids.dtype)
            new_mask[row, width - len(chunk) :] = 1
        self.ids = torch.cat([ids, new_ids.to(ids.device)], dim=1)
        self.mask = torch.cat([mask, new_mask.to(mask.device)], dim=1)
        self.rows = [self.rows[position] for position in keep]
        if self.cache is not None:
            self.cache.batch_select_indices(index)

    def compact(self) -> None:
        """Drop the holes and the cache: the next round re-encodes every row from scratch."""
        kept = [row[mask.bool()] for row, mask in zip(self.ids, self.mask)]
        width = max(len(row) for row in kept)
        self.ids = torch.full(
            (len(kept), width), self.pad_id, dtype=self.ids.dtype, device=self.ids.device
        )
        self.mask = torch.zeros_like(self.ids)
        for index, row in enumerate(kept):
            self.ids[index, width - len(row) :] = row
            self.mask[index, width - len(row) :] = 1
        self.cache = None
