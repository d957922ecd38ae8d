"""Recorded outputs returned in order: deterministic demos, tests of every step type, and the runtime's own
overhead measured without a model."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Sequence

from agentlab.errors import AgentlabError
from agentlab.runtime.backends.base import Generation, GenerationConfig, Messages, cut_at_stop


class ReplayBackend:
    """Returns recorded outputs in order (a list, or a JSONL file of {"text": ...}); for deterministic demos,
    tests of every step type, and measuring the runtime's own overhead without a model."""

    def __init__(self, outputs: Sequence[str] | str | Path, name: str = 'replay', cycle: bool = True):
        if isinstance(outputs, (str, Path)) and Path(outputs).is_file():
            outputs = [json.loads(line)['text'] for line in Path(outputs).read_text().splitlines() if line.strip()]
        self.outputs = list(outputs)
        if not self.outputs:
            raise AgentlabError('replay backend needs at least one recorded output')
        self.name = name
        self.cycle = cycle
        self.position = 0
        self.prompts: list[Messages] = []
        self._lock = threading.Lock()

    def generate(self, batch: Sequence[Messages], config: GenerationConfig,
                 limits: Sequence[int] | None = None) -> list[Generation]:
        out = []                        # recorded texts are returned whole: ``limits`` has nothing to cut
        with self._lock:
            for messages in batch:
                self.prompts.append([dict(m) for m in messages])
                if self.position >= len(self.outputs):
                    if not self.cycle:
                        raise AgentlabError('replay backend ran out of recorded outputs')
                    self.position = 0
                raw = self.outputs[self.position]
                self.position += 1
                text, stopped = cut_at_stop(raw, config.stop)
                out.append(Generation(text, 0, len(text.split()), 0.0, 'stop_word' if stopped else 'stop'))
        return out
