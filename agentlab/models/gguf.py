"""Reading a GGUF file's header before any engine loads it: is it a GGUF at all, is it whole, what does it carry.

llama.cpp itself answers a bad file with a C-level log and a bare "Failed to load model from file"; this module turns
the common cases into one-line errors that name the file and what is wrong (not GGUF, truncated, no chat template),
using the `gguf` reader (llama.cpp's own gguf-py, pinned in the core environment).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentlab.errors import AgentlabError

MAGIC = b'GGUF'


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    architecture: str
    file_type: str            # e.g. MOSTLY_Q8_0, ALL_F32
    tensors: int
    tensor_types: dict        # tensor type name -> count
    size_bytes: int
    chat_template: str | None
    bos_token: str | None
    eos_token: str | None
    context_length: int | None
    name: str | None


def _field(reader, key: str):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def _token(reader, key: str) -> str | None:
    tid = _field(reader, key)
    tokens = reader.fields.get('tokenizer.ggml.tokens')
    if tid is None or tokens is None:
        return None
    try:
        return tokens.contents(int(tid))
    except (IndexError, ValueError):
        return None


def read_gguf(path: str | Path, need_chat_template: bool = True) -> GGUFInfo:
    """Open and check a GGUF file; AgentlabError with a one-line reason when it is not a usable model file."""
    path = Path(path)
    if not path.is_file():
        raise AgentlabError(f'{path}: no such GGUF file')
    size = path.stat().st_size
    with path.open('rb') as f:
        head = f.read(4)
    if head != MAGIC:
        raise AgentlabError(f'{path}: not a GGUF file (starts with {head!r}, expected {MAGIC!r})')
    from gguf import GGUFReader
    from gguf.constants import LlamaFileType
    try:
        reader = GGUFReader(path, 'r')
    except (ValueError, IndexError, OSError, KeyError) as e:
        raise AgentlabError(f'{path}: unreadable GGUF header ({size} bytes; truncated or corrupt): {e}') from None
    end = 0
    types: dict[str, int] = {}
    for t in reader.tensors:
        end = max(end, int(t.data_offset) + int(t.n_bytes))
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    if not reader.tensors:
        raise AgentlabError(f'{path}: a GGUF file with no tensors (not a model)')
    if end > size:
        raise AgentlabError(f'{path}: truncated: the tensors need {end} bytes, the file has {size} '
                            f'({100 * size / end:.0f}%); copy or export it again')
    arch = _field(reader, 'general.architecture')
    ftype = _field(reader, 'general.file_type')
    try:
        ftype_name = LlamaFileType(int(ftype)).name if ftype is not None else 'unknown'
    except ValueError:
        ftype_name = str(ftype)
    template = _field(reader, 'tokenizer.chat_template')
    if need_chat_template and not template:
        raise AgentlabError(f'{path}: has no chat template (tokenizer.chat_template); re-export it with '
                            '`agentlab export --format gguf` from a model folder whose tokenizer_config.json has one')
    ctx = _field(reader, f'{arch}.context_length') if arch else None
    return GGUFInfo(path=path, architecture=str(arch or 'unknown'), file_type=ftype_name,
                    tensors=len(reader.tensors), tensor_types=types, size_bytes=size,
                    chat_template=str(template) if template else None,
                    bos_token=_token(reader, 'tokenizer.ggml.bos_token_id'),
                    eos_token=_token(reader, 'tokenizer.ggml.eos_token_id'),
                    context_length=int(ctx) if ctx is not None else None, name=_field(reader, 'general.name'))


def is_gguf_path(text: str) -> bool:
    return text.lower().endswith('.gguf')
