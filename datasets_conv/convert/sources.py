"""Finding the input files of `agentlab convert` and reading them record by record, in constant memory.

A source is a file, or a folder whose ``*.jsonl``, ``*.json`` and ``*.jsonl.gz`` files are read in name order (the
split name is the file stem); a folder with no such files but a ``data/`` subfolder (the layout of the Agent-FLAN
hub download) is read from there. ``stats.json`` and ``rejects.jsonl`` are never data: they are what a previous convert
wrote, and people often download them beside the data.

Reading is byte-based so that every quirk of real dumps survives: a UTF-8 BOM, CRLF line ends, blank lines, lines
of any length, and a line that is not valid UTF-8 (it becomes one rejected record instead of aborting the file).
Lines are handed on as bytes: the JSON parser validates UTF-8 itself, so decoding them first would be wasted work.
A ``.json`` file that starts with ``[`` is a JSON array (the usual shape of alpaca and LLaMA-Factory files); its
elements are decoded one at a time from a sliding window, so it streams too.
"""

from __future__ import annotations

import codecs
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Sequence

from agentlab.errors import AgentlabError

DATA_SUFFIXES = ('.jsonl.gz', '.json.gz', '.jsonl', '.json')
NEVER_DATA = frozenset({'stats.json', 'rejects.jsonl'})

# A record: (line number, the line's bytes without its line end, error). ``error`` is None, or (reason code, message)
# when the file itself could not be read on; the bytes then hold whatever was there, for rejects.jsonl.
Record = tuple[int, bytes, tuple[str, str] | None]

_BOM = codecs.BOM_UTF8
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    path: Path
    split: str          # the file stem: agent_instruct_react for agent_instruct_react.jsonl.gz
    display: str        # how errors name the file: as the user gave it, or folder/name


def split_name(path: Path) -> str:
    name = path.name
    for suffix in DATA_SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return path.stem


def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name.endswith(DATA_SUFFIXES) and p.name not in NEVER_DATA)


def discover(sources: Sequence[str | Path], splits: Sequence[str] | None = None,
             out: Path | None = None) -> list[Source]:
    """The data files named by ``sources`` (files or folders), filtered to ``splits`` when given."""
    found: list[Source] = []
    seen: set[Path] = set()
    out_resolved = out.resolve() if out is not None else None
    for given in sources:
        path = Path(given)
        if not path.exists():
            raise AgentlabError(f'source not found: {given}')
        if path.is_dir():
            if out_resolved is not None and path.resolve() == out_resolved:
                # Its train.jsonl would be read back as data on the next run.
                raise AgentlabError(f'--out {out} is also a source folder; write the output somewhere else')
            files = _data_files(path)
            if not files and (path / 'data').is_dir():
                # The hub download of Agent-FLAN keeps its splits in Agent-FLAN/data/: accept the repo folder too.
                path = path / 'data'
                files = _data_files(path)
            if not files:
                raise AgentlabError(f'no *.jsonl, *.json or *.jsonl.gz files in {given}')
        else:
            files = [path]
        for file in files:
            key = file.resolve()
            if key in seen:
                continue
            seen.add(key)
            display = str(file) if path.is_dir() else str(given)
            found.append(Source(file, split_name(file), display))
    if splits:
        available = sorted({s.split for s in found})
        missing = [s for s in splits if s not in available]
        if missing:
            raise AgentlabError(f'split(s) not found: {", ".join(missing)}; available: {", ".join(available)}')
        found = [s for s in found if s.split in splits]
    return found


class RecordReader:
    """Iterate over one file's records. ``blank_lines`` counts skipped blank lines (they are not rows);
    ``position()`` is how far into the file (compressed bytes for .gz) reading has got, for a progress bar."""

    def __init__(self, path: Path):
        self.path = path
        self.blank_lines = 0
        self._raw: IO[bytes] | None = None

    def position(self) -> int:
        try:
            return self._raw.tell() if self._raw is not None and not self._raw.closed else 0
        except (OSError, ValueError):
            return 0

    def __iter__(self) -> Iterator[Record]:
        # A 1 MiB buffer: Agent-FLAN's lines run to several KiB, and line iteration over the default 8 KiB buffer
        # spends most of its time stitching chunks together (3x slower, measured).
        with open(self.path, 'rb', buffering=_CHUNK) as raw:
            self._raw = raw
            stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode='rb') if self.path.name.endswith('.gz') else raw
            try:
                head = stream.peek(_CHUNK)[:_CHUNK] if hasattr(stream, 'peek') else b''
            except (OSError, EOFError) as exc:   # a corrupt .gz: one unreadable record, not a crash
                yield 1, b'', ('unreadable_file', f'cannot read {self.path.name}: {exc}')
                return
            if self.path.name.endswith(('.json', '.json.gz')) and head.removeprefix(_BOM).lstrip()[:1] == b'[':
                yield from self._array(stream)
            else:
                yield from self._lines(stream)

    def _lines(self, stream: IO[bytes]) -> Iterator[Record]:
        line_no = 0
        try:
            for raw_line in stream:
                line_no += 1
                if line_no == 1 and raw_line.startswith(_BOM):
                    raw_line = raw_line[len(_BOM):]
                # Strip the line end (LF or CRLF) only; other whitespace is JSON's business.
                raw_line = raw_line.rstrip(b'\r\n')
                if not raw_line or raw_line.isspace():      # isspace() stops at the first non-space: no copy
                    self.blank_lines += 1
                    continue
                yield line_no, raw_line, None
        except (OSError, EOFError) as exc:       # a truncated or corrupt .gz
            yield line_no + 1, b'', ('unreadable_file', f'cannot read on from here: {exc}')

    def _array(self, stream: IO[bytes]) -> Iterator[Record]:
        """Elements of a top-level JSON array, each with the line it starts on."""
        decoder = json.JSONDecoder()
        utf8 = codecs.getincrementaldecoder('utf-8-sig')('strict')
        buf, pos, line, eof = '', 0, 1, False   # `line` is the line number of buf[pos]

        def more() -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            chunk = stream.read(_CHUNK)
            eof = not chunk
            buf = buf[pos:] + utf8.decode(chunk, final=eof)
            pos = 0
            return True

        def skip_space() -> None:
            nonlocal pos, line
            while True:
                end = pos
                while end < len(buf) and buf[end] in ' \t\r\n':
                    end += 1
                line += buf.count('\n', pos, end)
                pos = end
                if pos < len(buf) or not more():
                    return

        try:
            skip_space()
            pos += 1                      # the opening '['
            expect_comma = False
            while True:
                skip_space()
                if pos >= len(buf):
                    yield line, b'', ('invalid_json', 'JSON array is not closed with "]"')
                    return
                if buf[pos] == ']':
                    return
                if expect_comma:
                    if buf[pos] != ',':
                        break
                    pos += 1
                    expect_comma = False
                    continue
                try:
                    _, end = decoder.raw_decode(buf, pos)
                    complete = end < len(buf) or eof
                except (json.JSONDecodeError, RecursionError):
                    complete = False
                if not complete:
                    # The element may just continue past the window: widen it. At the end of the file it is bad.
                    if more():
                        continue
                    break
                yield line, buf[pos:end].encode('utf-8'), None
                line += buf.count('\n', pos, end)
                pos = end
                expect_comma = True
        except UnicodeDecodeError as exc:
            yield line, b'', ('invalid_utf8', f'not valid UTF-8 ({exc.reason}); the rest of the array is unreadable')
            return
        except (OSError, EOFError) as exc:
            yield line, b'', ('unreadable_file', f'cannot read on from here: {exc}')
            return
        # Something that is not an element: nothing after it can be located reliably, so it is one bad record.
        rest = buf[pos:pos + 2000]
        yield line, rest.encode('utf-8'), ('invalid_json',
                                           'invalid JSON inside the array; the rest of the file is unreadable')
