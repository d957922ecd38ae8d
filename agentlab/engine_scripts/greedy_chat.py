"""Greedy chat with a local HF model folder; prints one JSON line. Runs under any transformers version agentlab uses
(core 5.x, train 4.48, bench 4.57), so tests can prove a converted folder behaves the same everywhere.

usage: python greedy_chat.py MODEL_DIR PROMPT [MAX_NEW_TOKENS]
"""

import json
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(1)
folder, prompt = sys.argv[1], sys.argv[2]
max_new = int(sys.argv[3]) if len(sys.argv) > 3 else 24
tok = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32)
model.eval()
ids = tok.apply_chat_template([{'role': 'user', 'content': prompt}], add_generation_prompt=True,
                              return_tensors='pt', return_dict=True)['input_ids']
with torch.no_grad():
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=False,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
new = out[0, ids.shape[1]:].tolist()
print('AGENTLAB_RESULT ' + json.dumps({
    'transformers': transformers.__version__, 'text': tok.decode(new, skip_special_tokens=True),
    'new_ids': new, 'stopped_at_eos': bool(new) and new[-1] == tok.eos_token_id,
    'eos_token': tok.eos_token, 'pad_token': tok.pad_token, 'bos_added': tok('hi').input_ids[:1] == [tok.bos_token_id],
    'prompt_ids': ids[0].tolist(),
}))
