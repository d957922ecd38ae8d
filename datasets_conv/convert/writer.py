"""Writing the output of `agentlab convert` so that a crash, a Ctrl-C or ``--on-error fail`` never leaves a
half-written or mixed set of files behind.

Everything is written into a private temporary folder inside ``--out`` and only moved into place (``os.replace``,
atomic per file) once the whole input has been read. Outputs a previous run wrote but this run does not
(``val.jsonl`` without ``--val-ratio``, ``hf/`` without ``--format hf``) are removed at that moment, so the folder
always describes one run.

The train/val decision is a hash of the row's key (its id, else its content) and the seed: stable across runs,
machines and Python versions, and independent of row order, file order and the other rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

TRAIN, VAL = 'train', 'val'
STATS, REJECTS, HF_DIR = 'stats.json', 'rejects.jsonl', 'hf'
_TMP_PREFIX = '.convert-tmp-'


def val_fraction(key: str, seed: int) -> float:
    """A number in [0, 1) fixed by (seed, key): the row goes to val when it is below --val-ratio."""
    digest = hashlib.blake2b(f'{seed}\0{key}'.encode('utf-8', 'surrogatepass'), digest_size=8).digest()
    return int.from_bytes(digest, 'big') / 2 ** 64


def dump_line_escaped(obj: Any) -> bytes:
    """One JSON line that never fails to encode: Chinese stays readable, and anything UTF-8 cannot hold (a lone
    surrogate from a JSON escape) is written \\u-escaped instead. Used for rejects, which must always be written."""
    try:
        return json.dumps(obj, ensure_ascii=False).encode('utf-8') + b'\n'
    except UnicodeEncodeError:
        return json.dumps(obj).encode('ascii') + b'\n'


class OutputWriter:
    """Collects train/val lines and rejects in a temporary folder; :meth:`publish` moves them into ``out``.

    Use as a context manager: leaving the block without publishing (an exception) deletes the temporary folder and
    leaves whatever ``out`` held before untouched.
    """

    def __init__(self, out: Path, val_ratio: float, seed: int):
        self.out = out
        self.val_ratio = val_ratio
        self.seed = seed
        self.tmp: Path | None = None
        self._files: dict[str, IO[bytes]] = {}

    def __enter__(self) -> 'OutputWriter':
        self.out.mkdir(parents=True, exist_ok=True)
        self._remove_stale_tmp()
        self.tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=self.out))
        (self.tmp / 'pid').write_text(str(os.getpid()))     # lets a later run tell a live run from a killed one
        names = [TRAIN, VAL] if self.val_ratio > 0 else [TRAIN]
        for name in names:
            self._files[name] = open(self.tmp / f'{name}.jsonl', 'wb')
        self._files['rejects'] = open(self.tmp / REJECTS, 'wb')
        return self

    def __exit__(self, *exc_info) -> None:
        self._close()
        if self.tmp is not None and self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _remove_stale_tmp(self) -> None:
        """Temporary folders of runs that were killed (SIGKILL skips cleanup) and are no longer running."""
        for old in self.out.glob(_TMP_PREFIX + '*'):
            pid_file = old / 'pid'
            try:
                pid = int(pid_file.read_text())
                os.kill(pid, 0)          # still running (a concurrent convert into the same folder): leave it
                continue
            except (OSError, ValueError):
                shutil.rmtree(old, ignore_errors=True)

    def _close(self) -> None:
        for fh in self._files.values():
            fh.close()

    def split_of(self, key: str) -> str:
        if self.val_ratio > 0 and val_fraction(key, self.seed) < self.val_ratio:
            return VAL
        return TRAIN

    def write_row(self, split: str, line: bytes) -> None:
        self._files[split].write(line)

    def write_reject(self, record: dict) -> None:
        self._files['rejects'].write(dump_line_escaped(record))

    def split_files(self) -> dict[str, Path]:
        """The temporary train/val files (for building the hf folder before publishing)."""
        assert self.tmp is not None
        return {name: self.tmp / f'{name}.jsonl' for name in self._files if name != 'rejects'}

    def publish(self, stats: dict, hf_builder=None) -> list[Path]:
        """Close the files, write stats.json (and the hf folder), then move everything into ``out``.

        stats.json goes last, so a folder whose stats.json is new holds the new data files too."""
        assert self.tmp is not None
        self._close()
        (self.tmp / 'pid').unlink(missing_ok=True)
        (self.tmp / STATS).write_text(json.dumps(stats, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
        if hf_builder is not None:
            hf_builder(self.split_files(), self.tmp / HF_DIR)
        names = [f'{name}.jsonl' for name in self._files if name != 'rejects'] + [REJECTS]
        published = []
        for name in names:
            os.replace(self.tmp / name, self.out / name)
            published.append(self.out / name)
        if VAL not in self._files:
            (self.out / f'{VAL}.jsonl').unlink(missing_ok=True)
        if hf_builder is not None:
            published.append(self._replace_dir(self.tmp / HF_DIR, self.out / HF_DIR))
        elif (self.out / HF_DIR).is_dir():
            shutil.rmtree(self.out / HF_DIR)
        os.replace(self.tmp / STATS, self.out / STATS)
        published.append(self.out / STATS)
        return published

    def _replace_dir(self, new: Path, dest: Path) -> Path:
        """Swap a folder into place: a folder cannot be os.replace'd over a non-empty one, so the old one is first
        moved into the temporary folder (deleted with it)."""
        assert self.tmp is not None
        if dest.exists():
            os.replace(dest, self.tmp / 'hf-old')
        os.replace(new, dest)
        return dest
