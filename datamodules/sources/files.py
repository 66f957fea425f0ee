"""Files of samples: this project's own sample records, and MathCoder's LCE trajectories."""

from __future__ import annotations

from typing import Any

from checks import InputError
from datamodules.sample import Block, Sample
from datamodules.sources.base import JsonlSource, required_text


class SampleFile(JsonlSource):
    """This project's own sample records:
    ``{"id", "dataset", "question", "blocks": [{"kind", "content"}], "answer"}``."""

    def parse_record(self, record: dict[str, Any], line: int) -> Sample:
        blocks = tuple(Block(block["kind"], block["content"]) for block in record.get("blocks", []))
        return Sample(
            id=str(record.get("id", f"{self.path.stem}-{line}")),
            dataset=str(record.get("dataset", self.path.stem)),
            question=required_text(record, "question"),
            blocks=blocks,
            answer=str(record.get("answer", "")),
        )


class LCETrajectories(JsonlSource):
    """MathCoder rows: ``messages`` (system, user turns) plus ``debug_result`` (the dialogue as a
    flat list whose ``text``/``code``/``execution`` entries are the solution's blocks)."""

    def parse_record(self, record: dict[str, Any], line: int) -> Sample:
        user_turns = [m for m in record["messages"] if m["role"] == "user"]
        if not user_turns:
            raise InputError("no user turn in 'messages'")
        question = "".join(part["content"] for part in user_turns[0]["content"])
        blocks = tuple(
            Block(entry["role"], entry["content"])
            for entry in record.get("debug_result", [])
            if entry["role"] in ("text", "code", "execution")
        )
        truth = record.get("ground_truth", {})
        return Sample(
            id=str(record.get("id", f"{self.path.stem}-{line}")),
            dataset=self.path.stem,
            question=question,
            blocks=blocks,
            answer=str(truth.get("answer", "")) if isinstance(truth, dict) else str(truth),
        )
