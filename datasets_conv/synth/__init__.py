"""`agentlab synth`: Agent-FLAN-style training conversations for any tool catalog, generated offline.

Output (one folder): ``react.jsonl``, ``tflan.jsonl``, ``negative.jsonl`` in Agent-FLAN's schema
``{"id", "conversation": [{"role", "content", "loss"}]}``, and ``stats.json``. Everything is rendered by
:mod:`agentlab.protocol`, so the text is byte-identical to what the runtime shows a model at inference.

What each split teaches (Agent-FLAN's recipe, Chen et al. 2024):

* react: full ReAct trajectories. A system prompt offers 1-8 tools (the right one among distractors, often from the
  same domain), the user asks, the assistant writes ``Thought / Action / Action Input``, the tool result comes back
  as a ``Response:`` user turn (the real output of local deterministic tools; otherwise a plausible result drawn
  from the tool's result shape) and the assistant ends with ``Final Answer``. Some requests need two calls
  (independent, or the second using the first's result).
* tflan: the same knowledge decomposed into format-following turns (which tool, which parameters, their types and
  values, the JSON arguments, then the full step), and trajectories whose earlier steps are context; context turns
  carry ``loss: false``.
* negative: requests that need no tool (answered directly), requests for a tool that is not offered (answered
  honestly that it is unavailable), twins (TWIN_SHARE of the split: a one-call react row's own request with its tool
  taken away, Hammer's construction) and requests missing a required value (answered by asking for it).

On a third of the react and negative rows (masking.SHARE) the offered tools and their parameters get random names
(Hammer's name masking, :mod:`~agentlab.datasets_conv.synth.masking`): the model has to read the descriptions.

Same seed, same bytes: every random choice comes from per-split generators seeded from ``--seed``, and nothing
depends on set or dict iteration order that could change between runs.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from agentlab.datasets_conv.synth.catalog import load_tools
from agentlab.datasets_conv.synth.checks import check_sample
from agentlab.datasets_conv.synth.generator import MIX, SPLITS, TWIN_SHARE, Retry, Sample, Synthesizer
from agentlab.datasets_conv.synth.masking import SHARE as MASK_SHARE
from agentlab.datasets_conv.synth.masking import mask_names
from agentlab.datasets_conv.synth.stats import compute_stats
from agentlab.errors import AgentlabError

MASKED_SPLITS = ('react', 'negative')


def split_counts(rows: int) -> dict[str, int]:
    counts = {s: int(rows * MIX[s]) for s in SPLITS}
    counts['react'] += rows - sum(counts.values())
    return counts


def generate(engine: Synthesizer, rows: int, seed: int,
             progress: Callable[[int], None] | None = None) -> tuple[dict[str, list[Sample]], dict]:
    """Generate ``rows`` unique conversations; returns samples per split and generation counters."""
    singles: list[Sample] = []      # one-call react rows before masking: the positives that negatives twin

    def negative(rng: random.Random) -> Sample:
        if singles and rng.random() < TWIN_SHARE:
            return engine.twin(singles.pop(rng.randrange(len(singles))), rng)
        return engine.negative(rng)

    builders = {'react': engine.react, 'tflan': engine.tflan, 'negative': negative}
    out: dict[str, list[Sample]] = {}
    seen: set[str] = set()
    duplicates = retries = 0
    for split, want in split_counts(rows).items():
        rng = random.Random(f'agentlab-synth/{seed}/{split}')
        mask_rng = random.Random(f'agentlab-synth/{seed}/{split}/mask')
        samples: list[Sample] = []
        attempts = 0
        while len(samples) < want and attempts < want * 20 + 100:
            attempts += 1
            try:
                sample = builders[split](rng)
            except Retry:
                retries += 1
                continue
            check_sample(sample)
            # duplicates are judged before masking: a renamed copy of a conversation teaches nothing new
            key = hashlib.sha1(json.dumps(sample.turns, ensure_ascii=False).encode()).hexdigest()
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            if sample.kind == 'single':
                singles.append(sample)
            if split in MASKED_SPLITS and mask_rng.random() < MASK_SHARE:
                sample = mask_names(sample, mask_rng)
            samples.append(sample)
            if progress:
                progress(1)
        out[split] = samples
    return out, {'duplicates_removed': duplicates, 'retried_draws': retries}


def run_synth(out: Path, rows: int = 5000, seed: int = 0, tools: str = 'builtin,catalog', lang: str = 'en',
              progress: bool = True) -> dict:
    """Write react.jsonl, tflan.jsonl, negative.jsonl and stats.json to ``out``; returns the stats."""
    if rows < 1:
        raise AgentlabError(f'--rows must be at least 1, got {rows}')
    start = time.perf_counter()
    engine = Synthesizer(load_tools(tools), lang)
    bar = tqdm(total=rows, desc='synth', unit='row', disable=not progress, file=sys.stderr)
    try:
        samples, counters = generate(engine, rows, seed, progress=bar.update)
    finally:
        bar.close()
    out.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        with open(out / f'{split}.jsonl', 'w', encoding='utf-8', newline='\n') as fh:
            for i, s in enumerate(samples[split]):
                row = s.to_row(f'synth-{seed}-{split}-{i:06d}')
                fh.write(json.dumps(row, ensure_ascii=False) + '\n')
    stats = compute_stats(engine, samples, counters, rows, seed, tools)
    # No timings in stats.json: the whole folder is the same bytes for the same seed.
    (out / 'stats.json').write_text(json.dumps(stats, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    seconds = time.perf_counter() - start
    total = stats['rows']
    if total < rows:
        print(f'agentlab: warning: only {total} unique conversations could be generated from these tools '
              f'(asked for {rows})', file=sys.stderr)
    print(f'wrote {total} conversations to {out} ({", ".join(f"{k} {v}" for k, v in stats["splits"].items())}; '
          f'{stats["functions"]["called"]}/{stats["functions"]["available"]} tools called, '
          f'{len(stats["domains"])} domains) in {seconds:.1f} s ({total / max(seconds, 1e-9):.0f} rows/s)')
    return stats
