"""``--format hf``: the converted data as a ``datasets`` save_to_disk folder with ``messages`` (role, content, loss),
for people who follow XTuner's tutorial route (``load_from_disk`` + ``openai_map_fn``).

It is built from the already converted train/val files, so it says exactly what they say, and the two pitfalls of
that route cannot bite:

* null loss: openai_map_fn takes a message's ``loss`` as is, and XTuner masks a falsy one, so the null that Arrow
  stores for a missing flag would mask a turn Agent-FLAN trains. Every message here carries an explicit boolean.
* glued turns: openai_map_fn concatenates consecutive user messages with no separator. Here each pair has exactly one
  user message (its user-side turns already joined with "\\n"), and at most one system message.

The folder is written in batches (``Dataset.from_generator``), so memory stays flat however big the data is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator


def conversation_to_messages(conversation: list[dict]) -> list[dict]:
    """XTuner pairs -> OpenAI-style messages that openai_map_fn turns back into the same pairs."""
    messages = []
    for pair in conversation:
        if pair['system']:
            messages.append({'role': 'system', 'content': pair['system'], 'loss': False})
        messages.append({'role': 'user', 'content': pair['input'], 'loss': False})
        messages.append({'role': 'assistant', 'content': pair['output'], 'loss': bool(pair['output_with_loss'])})
    return messages


def _rows(path: str) -> Iterator[dict]:
    with open(path, encoding='utf-8') as fh:
        for line in fh:
            yield {'messages': conversation_to_messages(json.loads(line)['conversation'])}


def build_hf(split_files: dict[str, Path], dest: Path) -> None:
    """Write a DatasetDict (one split per converted file: ``train``, and ``val`` with --val-ratio) to ``dest``."""
    import datasets
    from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

    features = datasets.Features({'messages': [{'role': datasets.Value('string'),
                                                'content': datasets.Value('string'),
                                                'loss': datasets.Value('bool')}]})
    cache = dest.parent / 'hf-cache'          # inside the temporary output folder, never ~/.cache
    bars = is_progress_bar_enabled()
    disable_progress_bar()                    # convert shows its own progress; datasets' bars would interleave
    try:
        splits = {}
        for name, path in split_files.items():
            if path.stat().st_size == 0:      # from_generator refuses to build an empty split
                splits[name] = datasets.Dataset.from_dict({'messages': []}, features=features)
                continue
            splits[name] = datasets.Dataset.from_generator(
                _rows, features=features, cache_dir=str(cache), gen_kwargs={'path': str(path)}, split=name)
        # An empty split must still get one (empty) shard, or load_from_disk cannot read the folder back.
        empty = {name: 1 for name, ds in splits.items() if len(ds) == 0}
        datasets.DatasetDict(splits).save_to_disk(str(dest), num_shards=empty or None)
        for ds in splits.values():
            ds.cleanup_cache_files()
    finally:
        if bars:
            enable_progress_bar()
        shutil.rmtree(cache, ignore_errors=True)
