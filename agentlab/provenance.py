"""What a result was made from, and writing it safely: git state, package versions, content hashes (one model
hash for every record that names weights), atomic JSON writes and file locks."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

DISTRIBUTIONS = ('agentlab', 'torch', 'transformers', 'lagent', 'bfcl-eval', 'openai')


def git_info() -> dict:
    """The commit of the agentlab checkout this code runs from ({'sha': None} for an installed wheel)."""
    package = Path(__file__).resolve().parent
    try:
        top = subprocess.run(['git', 'rev-parse', '--show-toplevel'], cwd=package, capture_output=True, text=True,
                             timeout=10)
        root = Path(top.stdout.strip()) if top.returncode == 0 else None
        # Only a repository that holds this very package: a wheel installed in a venv inside some other checkout
        # must not report that checkout's commit.
        if root is None or not (root / 'agentlab' / 'provenance.py').resolve() == Path(__file__).resolve():
            return {'sha': None, 'dirty': None}
        sha = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return {'sha': None, 'dirty': None}
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return {'sha': sha.stdout.strip(), 'dirty': bool(dirty.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {'sha': None, 'dirty': None}


def versions(dists: Iterable[str] = DISTRIBUTIONS) -> dict:
    from importlib import metadata
    out = {'python': platform.python_version()}
    for dist in dists:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def model_hash(folder: Path) -> str | None:
    """sha256 over a model folder's files (relative names and contents; hidden files skipped), so that any two
    records (results.json, train_summary.json, a GGUF export) can prove they name the same weights. A single file
    (a GGUF) hashes as itself."""
    folder = Path(folder)
    if folder.is_file():
        return sha256_file(folder)
    if not folder.is_dir():
        return None
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob('*') if p.is_file()):
        rel = f.relative_to(folder).as_posix()
        if rel.startswith('.') or '/.' in rel:
            continue
        h.update(rel.encode() + b'\0')
        with open(f, 'rb') as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b''):
                h.update(chunk)
    return h.hexdigest()


def content_hash(files: Iterable[Path]) -> str:
    """sha256 over the names and bytes of ``files`` (in the order given)."""
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b'\0' + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def tree_stamp(path: Path) -> list:
    """Names, sizes and modification times: enough to notice a changed data set without reading gigabytes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob('*') if p.is_file())
    return [(str(p), p.stat().st_size, int(p.stat().st_mtime)) for p in files]


def stable_key(*parts: Any) -> str:
    """A short hash of JSON-able ``parts`` (dict order does not matter)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_json_atomic(path: Path, data: Any, indent: int | None = 1) -> None:
    """Write JSON so that a reader (or a crash) never sees half a file: a temporary file renamed into place."""
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.tmp-{os.getpid()}')
    tmp.write_text(json.dumps(data, indent=indent, ensure_ascii=False) + ('\n' if indent is not None else ''),
                   encoding='utf-8')
    os.replace(tmp, path)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if missing), held for the ``with`` block: two processes
    building the same environment or pulling the same model wait for each other instead of colliding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
