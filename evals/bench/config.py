"""The OpenCompass config `agentlab bench` runs: OpenCompass's stock dataset configs, unchanged, over the model
folder on CPU (HuggingFacewithChatTemplate, device_map='cpu', float32, num_gpus=0); --limit N becomes each
dataset's test_range."""

from __future__ import annotations

import math
from pathlib import Path

from agentlab.errors import AgentlabError
from agentlab.evals.bench.data import BENCHES, UNAVAILABLE, data_cache


def parse_datasets(spec: str) -> tuple[list[str], list[Path]]:
    names, custom = [], []
    for item in [s.strip() for s in spec.split(',') if s.strip()]:
        key = item.lower().replace('-', '_')
        if item.endswith('.jsonl'):
            path = Path(item).expanduser().resolve()
            if not path.is_file():
                raise AgentlabError(f'custom dataset {item} does not exist')
            custom.append(path)
        elif key in BENCHES:
            names.append(key)
        elif key.replace('_', '') in UNAVAILABLE:
            title, layout = UNAVAILABLE[key.replace('_', '')]
            raise AgentlabError(f'{title} data is not available offline (not on PyPI). If you have it, put it at '
                                f'{data_cache() / layout} and give an OpenCompass config for it, or pass the '
                                'questions as a custom .jsonl dataset')
        else:
            raise AgentlabError(f'unknown dataset {item!r}; choose from {", ".join(BENCHES)} or give a .jsonl file')
    if not names and not custom:
        raise AgentlabError('no dataset given')
    return names, custom


def write_config(path: Path, model_dir: Path, names: list[str], custom: list[Path], limit: int | None,
                 max_out_len: int, batch_size: int, work: Path) -> None:
    imports = '\n'.join(f'    from opencompass.configs.datasets.{BENCHES[n].module} import {BENCHES[n].variable}'
                        for n in names)
    slices = {}
    for n in names:
        if limit and n == 'mmlu':
            slices[n] = ('mmlu', limit)
        elif limit:
            slices[n] = ('range', limit)
    custom_files = []
    for c in custom:
        if limit:
            sliced = work / 'custom' / c.name
            sliced.parent.mkdir(parents=True, exist_ok=True)
            lines = [x for x in c.read_text(encoding='utf-8').splitlines() if x.strip()][:limit]
            sliced.write_text('\n'.join(lines) + '\n', encoding='utf-8')
            custom_files.append(sliced)
        else:
            custom_files.append(c)
    body = f'''# Written by `agentlab bench`; OpenCompass's stock dataset configs, unchanged but for the --limit slice.
from mmengine.config import read_base
from opencompass.models import HuggingFacewithChatTemplate

with read_base():
{imports if imports else "    pass"}

datasets = []
'''
    for n in names:
        var = BENCHES[n].variable
        kind, k = slices.get(n, (None, None))
        if kind == 'mmlu':
            per = max(1, math.ceil(k / 57))
            body += (f"for _d in sorted({var}, key=lambda d: d['abbr'])[:{min(k, 57)}]:\n"
                     f"    _d['reader_cfg']['test_range'] = '[0:{per}]'\n    datasets.append(_d)\n")
        elif kind == 'range':
            body += f"for _d in {var}:\n    _d['reader_cfg']['test_range'] = '[0:{k}]'\n    datasets.append(_d)\n"
        else:
            body += f'datasets += {var}\n'
    for c in custom_files:
        body += f"datasets.append(dict(path={str(c)!r}, abbr={c.stem!r}, infer_method='gen'))\n"
    body += f'''
models = [dict(
    type=HuggingFacewithChatTemplate, abbr='model', path={str(model_dir)!r},
    model_kwargs=dict(device_map='cpu', torch_dtype='torch.float32'),
    # generate() refuses token_type_ids, which a PreTrainedTokenizerFast returns by default
    tokenizer_kwargs=dict(model_input_names=['input_ids', 'attention_mask']),
    max_out_len={max_out_len}, batch_size={batch_size}, run_cfg=dict(num_gpus=0, num_procs=1))]
work_dir = {str(work)!r}
'''
    path.write_text(body, encoding='utf-8')
