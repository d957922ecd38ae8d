"""`agentlab convert`: tool-use and chat datasets -> XTuner conversation JSONL, with nothing lost.

    agentlab convert agent-flan Agent-FLAN/data --out data/xtuner --val-ratio 0.02

Output contract (docs/design.md, docs/data.md), all in ``--out``:

* ``train.jsonl`` (and ``val.jsonl`` with --val-ratio): one ``{"conversation": [{"system", "input", "output",
  "output_with_loss"}, ...]}`` per line;
* ``stats.json``: rows read, converted, rejected by reason, turns trained/masked, rows per split, dropped turns by
  reason; ``rows_read == converted + rejected`` always;
* ``rejects.jsonl``: each rejected row verbatim (as text: it may not even be JSON) with file, line and reason;
* ``hf/`` with ``--format hf``: the same data as a ``datasets`` save_to_disk folder of ``messages``.

The work is one streaming pass: read a record (sources.py), convert it (formats.py), write it (writer.py). Memory
does not grow with the input.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from agentlab.datasets_conv.convert.formats import DROPPED_REASONS, FORMATS, RowError, convert_record, encode_pairs
from agentlab.datasets_conv.convert.sources import RecordReader, Source, discover
from agentlab.datasets_conv.convert.writer import HF_DIR, REJECTS, STATS, TRAIN, VAL, OutputWriter
from agentlab.errors import AgentlabError

ON_ERROR = ('skip', 'fail')
OUT_FORMATS = ('jsonl', 'hf')
_PROGRESS_EVERY = 500          # rows between progress-bar updates (a tqdm call per row would show in the timings)


@dataclass
class _Counts:
    """Per-file counters; the totals in stats.json are their sums."""
    rows_read: int = 0
    converted: int = 0
    rejected: int = 0


@dataclass
class _Tally:
    files: list[tuple[Source, _Counts, int]] = field(default_factory=list)   # (source, counts, blank lines)
    rejected_by_reason: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    split_rows: Counter = field(default_factory=Counter)
    split_trained: Counter = field(default_factory=Counter)
    split_masked: Counter = field(default_factory=Counter)


def _check_options(fmt: str, val_ratio: float, on_error: str, out_format: str) -> None:
    if fmt not in FORMATS:
        raise AgentlabError(f'unknown format {fmt!r}; choose one of: {", ".join(FORMATS)}')
    if not 0.0 <= val_ratio < 1.0:
        raise AgentlabError(f'--val-ratio must be at least 0 and below 1, got {val_ratio}')
    if on_error not in ON_ERROR:
        raise AgentlabError(f'--on-error must be skip or fail, got {on_error!r}')
    if out_format not in OUT_FORMATS:
        raise AgentlabError(f'--format must be jsonl or hf, got {out_format!r}')


def run_convert(fmt: str, sources: Sequence[str | Path], out: Path, splits: Sequence[str] | None = None,
                val_ratio: float = 0.0, seed: int = 0, on_error: str = 'skip', out_format: str = 'jsonl',
                quiet: bool = False) -> dict:
    """Convert every row of ``sources`` (files or folders) from ``fmt`` into ``out``; return the stats dict.

    ``on_error='fail'`` stops at the first bad row with an AgentlabError naming file:line, field and reason (exit 1
    on the command line) and leaves ``out`` as it was."""
    _check_options(fmt, val_ratio, on_error, out_format)
    if not sources:
        raise AgentlabError('no source given: name files or folders to convert')
    files = discover(sources, splits, out=out)
    started = time.perf_counter()
    tally = _Tally()
    with OutputWriter(out, val_ratio, seed) as writer, _progress(files, fmt, quiet) as bar:
        for source in files:
            _convert_file(fmt, source, writer, tally, on_error, bar)
        stats = _stats(fmt, tally, val_ratio, seed, on_error, out_format)
        hf_builder = None
        if out_format == 'hf':
            from agentlab.datasets_conv.convert.hf import build_hf
            hf_builder = build_hf
        writer.publish(stats, hf_builder)
    if not quiet:
        print(_summary(stats, out, time.perf_counter() - started))
        if stats['rows_read'] and not stats['converted']:
            top = max(stats['rejected_by_reason'].items(), key=lambda kv: kv[1])
            print(f'warning: no row was converted (most rejected as {top[0]}); is {fmt!r} the right format? '
                  f'see {out / REJECTS}', file=sys.stderr)
    return stats


def _convert_file(fmt: str, source: Source, writer: OutputWriter, tally: _Tally, on_error: str, bar) -> None:
    counts = _Counts()
    reader = RecordReader(source.path)
    done_bytes = 0
    for line_no, data, read_error in reader:
        counts.rows_read += 1
        try:
            if read_error is not None:
                raise RowError(read_error[0], '', read_error[1])
            conv = convert_record(fmt, data)
            line = encode_pairs(conv.pairs)
        except RowError as err:
            if on_error == 'fail':
                where = f'{err.field}: ' if err.field else ''
                raise AgentlabError(f'{source.display}:{line_no}: {where}{err.message} [{err.reason}] '
                                    f'(--on-error skip records bad rows in {REJECTS} and goes on)') from None
            counts.rejected += 1
            tally.rejected_by_reason[err.reason] += 1
            # The row verbatim, as text (it may not even be JSON); bytes that are not UTF-8 appear as \xNN.
            row_text = data.decode('utf-8', 'backslashreplace')
            writer.write_reject({'file': source.display, 'line': line_no, 'split': source.split,
                                 'reason': err.reason, 'field': err.field, 'message': err.message, 'row': row_text})
        else:
            split = writer.split_of(conv.key)
            writer.write_row(split, line)
            counts.converted += 1
            trained = conv.trained
            tally.split_rows[split] += 1
            tally.split_trained[split] += trained
            tally.split_masked[split] += len(conv.pairs) - trained
            if conv.dropped:
                tally.dropped.update(conv.dropped)
        if counts.rows_read % _PROGRESS_EVERY == 0:
            pos = reader.position()
            bar.update(pos - done_bytes)
            done_bytes = pos
    bar.update(_size(source.path) - done_bytes)
    tally.files.append((source, counts, reader.blank_lines))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self) -> '_NoBar':
        return self

    def __exit__(self, *exc_info) -> None:
        pass


def _progress(files: list[Source], fmt: str, quiet: bool):
    """A byte-based tqdm bar on stderr (shown on a terminal only: logs and pipes stay clean)."""
    if quiet:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=sum(_size(s.path) for s in files), unit='B', unit_scale=True, unit_divisor=1024,
                desc=f'convert {fmt}', disable=None, file=sys.stderr, leave=False)


def _stats(fmt: str, tally: _Tally, val_ratio: float, seed: int, on_error: str, out_format: str) -> dict:
    """stats.json. Deterministic (no times, no absolute paths): the same input gives the same bytes."""
    split_names = [TRAIN, VAL] if val_ratio > 0 else [TRAIN]
    per_file, per_split = [], {}
    for source, counts, blank in tally.files:
        per_file.append({'file': source.display, 'split': source.split, 'rows_read': counts.rows_read,
                         'converted': counts.converted, 'rejected': counts.rejected, 'blank_lines': blank})
        agg = per_split.setdefault(source.split, {'rows_read': 0, 'converted': 0, 'rejected': 0})
        for key in agg:
            agg[key] += getattr(counts, key)
    converted = sum(c.converted for _, c, _ in tally.files)
    rejected = sum(c.rejected for _, c, _ in tally.files)
    outputs = [f'{n}.jsonl' for n in split_names] + [REJECTS, STATS] + ([HF_DIR] if out_format == 'hf' else [])
    return {
        'format': fmt,
        'rows_read': sum(c.rows_read for _, c, _ in tally.files),
        'converted': converted,
        'rejected': rejected,
        'rejected_by_reason': dict(sorted(tally.rejected_by_reason.items())),
        'turns': {'trained': sum(tally.split_trained.values()), 'masked': sum(tally.split_masked.values())},
        'splits': {name: {'rows': tally.split_rows[name], 'turns_trained': tally.split_trained[name],
                          'turns_masked': tally.split_masked[name]} for name in split_names},
        'dropped_turns': {reason: tally.dropped[reason] for reason in DROPPED_REASONS},
        'source_splits': per_split,
        'files': per_file,
        'blank_lines': sum(blank for _, _, blank in tally.files),
        'val_ratio': val_ratio,
        'seed': seed,
        'on_error': on_error,
        'outputs': outputs,
    }


def _summary(stats: dict, out: Path, seconds: float) -> str:
    reasons = ', '.join(f'{n} {r}' for r, n in stats['rejected_by_reason'].items())
    dropped = ', '.join(f'{n} {r}' for r, n in stats['dropped_turns'].items() if n) or 'none'
    splits = ', '.join(f'{name}.jsonl {s["rows"]:,}' for name, s in stats['splits'].items())
    rate = stats['rows_read'] / seconds if seconds > 0 else 0.0
    lines = [
        f'converted {stats["converted"]:,} of {stats["rows_read"]:,} rows from {len(stats["files"])} file(s) '
        f'in {seconds:.1f} s ({rate:,.0f} rows/s); rejected {stats["rejected"]:,}' + (f' ({reasons})' if reasons
                                                                                     else ''),
        f'rows: {splits}; turns trained {stats["turns"]["trained"]:,}, masked {stats["turns"]["masked"]:,}; '
        f'dropped turns: {dropped}',
        f'wrote {out}/: ' + ', '.join(stats['outputs']) + (f' (see {REJECTS} for each rejected row)'
                                                          if stats['rejected'] else ''),
    ]
    return '\n'.join(lines)
