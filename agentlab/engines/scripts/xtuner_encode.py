"""Run a rendered XTuner config's own dataset pipeline (process_hf_dataset: template, tokenizer, masks, packing)
and write what XTuner would train on: one JSON line per sample with input_ids and labels. Runs in the train env.

With --parity N it also checks the preset's prompt template against the tokenizer's own chat template: the first N
conversations are encoded by XTuner *unpacked* and compared token by token with
``tokenizer.apply_chat_template(messages)``. A mismatch means the model would be trained on a format it never sees
at inference (the classic doubled-BOS / missing-newline bugs), so `agentlab train` refuses to launch.

usage: python xtuner_encode.py CONFIG OUT_JSONL [--parity N] [--unpacked]
"""

import argparse
import json
import os
import tempfile

import torch

if not hasattr(torch.cpu, 'is_bf16_supported'):   # see xtuner_run.py
    torch.cpu.is_bf16_supported = lambda: False

from mmengine.config import Config  # noqa: E402
from xtuner.registry import BUILDER  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument('config')
parser.add_argument('out')
parser.add_argument('--parity', type=int, default=0, help='check this many conversations against the chat template')
parser.add_argument('--unpacked', action='store_true', help='encode one sample per conversation (no packing)')
args = parser.parse_args()

cfg = Config.fromfile(args.config)
dataset_cfg = cfg.train_dataloader.dataset
if args.unpacked:
    dataset_cfg.pack_to_max_length = False
    dataset_cfg.shuffle_before_pack = False
dataset = BUILDER.build(dataset_cfg)
with open(args.out, 'w') as fh:
    for sample in dataset:
        fh.write(json.dumps({'input_ids': list(sample['input_ids']), 'labels': list(sample['labels'])}) + '\n')
result = {'samples': len(dataset)}


def messages_of(conversation: list[dict]) -> list[dict]:
    messages = []
    for turn in conversation:
        if turn.get('system'):
            messages.append({'role': 'system', 'content': turn['system']})
        messages.append({'role': 'user', 'content': turn['input']})
        messages.append({'role': 'assistant', 'content': turn['output']})
    return messages


if args.parity:
    from transformers import AutoTokenizer
    data_file = dataset_cfg.dataset.data_files[0]
    with open(data_file, encoding='utf-8') as fh:
        rows = [json.loads(line) for _, line in zip(range(args.parity), fh)]
    with tempfile.TemporaryDirectory() as tmp:
        subset = os.path.join(tmp, 'parity.jsonl')
        with open(subset, 'w', encoding='utf-8') as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + '\n' for r in rows)
        dataset_cfg.dataset.data_files = [subset]
        dataset_cfg.pack_to_max_length = False
        dataset_cfg.shuffle_before_pack = False
        dataset_cfg.max_length = 1 << 20   # no truncation: compare whole conversations
        encoded = BUILDER.build(dataset_cfg)
    tokenizer = AutoTokenizer.from_pretrained(cfg.pretrained_model_name_or_path, trust_remote_code=True)
    mismatches = []
    for i, (row, sample) in enumerate(zip(rows, encoded)):
        expected = tokenizer.apply_chat_template(messages_of(row['conversation']), tokenize=True)
        if hasattr(expected, 'keys'):
            expected = expected['input_ids']
        got = list(sample['input_ids'])
        if got != list(expected):
            at = next((k for k, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
            mismatches.append({'row': i, 'first_difference': at,
                               'xtuner': tokenizer.decode(got[max(0, at - 8):at + 8]),
                               'chat_template': tokenizer.decode(list(expected)[max(0, at - 8):at + 8])})
    result['parity'] = {'checked': min(len(rows), len(encoded)), 'mismatches': mismatches[:5],
                        'mismatch_count': len(mismatches)}
print(f'AGENTLAB_RESULT {json.dumps(result)}')
