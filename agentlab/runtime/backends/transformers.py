"""A local Hugging Face folder, generated in this process (CPU or GPU), batched with left padding. Lagent's own HF
wrappers are not used: they hard-code `.cuda()` and private generate APIs."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Sequence

from agentlab.runtime.backends.base import (Constraint, Generation, GenerationConfig, Messages, cut_at_stop,
                                            row_configs)


class TransformersBackend:
    """A local HF folder, generated in this process (CPU or GPU); batched with left padding."""

    def __init__(self, path: str | Path, device: str | None = None, dtype: str = 'float32', threads: int | None = None,
                 batch_size: int = 8):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        self.name = str(path)
        if threads:
            torch.set_num_threads(threads)
        elif os.environ.get('OMP_NUM_THREADS'):
            torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))
        self.device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        self.dtype = dtype
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = 'left'
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(self.device)
        self.model.eval()
        self.batch_size = batch_size
        self._stops: dict = {}
        self._xgr_compiler = None            # xgrammar's compiler and compiled grammars, made on first constraint
        self._xgr_cache: dict[str, object] = {}
        self._lock = threading.Lock()   # one generate at a time per model (the demo serves several sessions)

    def _stop_criteria(self, stop: tuple[str, ...]):
        # StopStringCriteria precomputes a table over the whole vocabulary (seconds for 49k tokens): build it once
        # per stop-word set, not on every generate() call as `stop_strings=` would.
        from transformers import StopStringCriteria
        if stop not in self._stops:
            self._stops[stop] = StopStringCriteria(self.tokenizer, list(stop))
        return self._stops[stop]

    def render(self, messages: Messages) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(self, batch: Sequence[Messages], config: GenerationConfig,
                 limits: Sequence[int] | None = None) -> list[Generation]:
        limits = [c.max_new_tokens for c in row_configs(config, limits, len(batch))]
        out: list[Generation] = []
        for i in range(0, len(batch), self.batch_size):
            out += self._generate(batch[i:i + self.batch_size], config, limits[i:i + self.batch_size])
        return out

    def _generate(self, batch: Sequence[Messages], config: GenerationConfig, limits: list[int]) -> list[Generation]:
        import torch
        prompts = [self.render(m) for m in batch]
        enc = self.tokenizer(prompts, return_tensors='pt', padding=True, add_special_tokens=False).to(self.device)
        kwargs = dict(max_new_tokens=max(limits), pad_token_id=self.tokenizer.pad_token_id,
                      eos_token_id=self.tokenizer.eos_token_id)
        criteria = []
        if config.stop:
            criteria.append(self._stop_criteria(tuple(config.stop)))
        if len(set(limits)) > 1:
            criteria.append(_row_budget(enc['input_ids'].shape[1], limits, self.device))
        if criteria:
            kwargs['stopping_criteria'] = criteria
        if config.temperature > 0:
            if config.seed is not None:
                torch.manual_seed(config.seed)
            kwargs.update(do_sample=True, temperature=config.temperature, top_p=config.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        start = time.perf_counter()
        with self._lock, torch.no_grad():
            seqs = self.model.generate(**enc, **kwargs)
        seconds = time.perf_counter() - start
        width = enc['input_ids'].shape[1]
        results = []
        for row, ids in enumerate(seqs[:, width:].tolist()):
            new = [t for t in ids if t != self.tokenizer.pad_token_id]
            hit_eos = len(new) < len(ids) or (ids and ids[-1] == self.tokenizer.eos_token_id)
            raw = self.tokenizer.decode(new, skip_special_tokens=True)
            text, stopped = cut_at_stop(raw, config.stop)
            # a row that used its whole budget is 'length' even when rows beside it went on (it is padded after)
            reason = 'stop_word' if stopped else ('length' if len(new) >= limits[row] else
                                                  ('stop' if hit_eos else 'length'))
            results.append(Generation(text, int(enc['attention_mask'][row].sum()), len(new), seconds / len(batch),
                                      reason))
        return results


    # --- continuing a partly written turn (the serve bridge's tool_choice and constrained decoding) ---------------

    def _grammar(self, constraint: Constraint):
        """The compiled xgrammar grammar of a constraint, cached (compiling a JSON schema takes milliseconds, the
        tokenizer's table half a second: both once)."""
        import xgrammar as xgr
        if self._xgr_compiler is None:
            info = xgr.TokenizerInfo.from_huggingface(self.tokenizer, vocab_size=self.model.config.vocab_size)
            self._xgr_compiler = xgr.GrammarCompiler(info, cache_enabled=True)
        key = constraint.key()
        if key not in self._xgr_cache:
            if constraint.kind == 'choice':
                import json
                ebnf = 'root ::= ' + ' | '.join(json.dumps(o, ensure_ascii=False) for o in constraint.options)
                self._xgr_cache[key] = self._xgr_compiler.compile_grammar(ebnf)
            else:
                # compact, as protocol.render_arguments writes arguments (json.dumps' default separators); strict:
                # no properties beyond the schema's (a call's arguments are the tool's parameters, nothing else)
                self._xgr_cache[key] = self._xgr_compiler.compile_json_schema(
                    constraint.schema, any_whitespace=False, separators=(', ', ': '), strict_mode=True)
        return self._xgr_cache[key]

    def continue_text(self, messages: Messages, prefix: str, config: GenerationConfig,
                      constraint: Constraint | None = None) -> Generation:
        import torch
        prompt = self.render(messages) + prefix
        enc = self.tokenizer([prompt], return_tensors='pt', add_special_tokens=False).to(self.device)
        kwargs = dict(max_new_tokens=config.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                      eos_token_id=self.tokenizer.eos_token_id, do_sample=False, temperature=None, top_p=None,
                      top_k=None)
        if config.stop:
            kwargs['stopping_criteria'] = [self._stop_criteria(tuple(config.stop))]
        start = time.perf_counter()
        with self._lock, torch.no_grad():
            if constraint is not None:
                import xgrammar as xgr
                # a fresh processor per call: it holds the matcher state of one sequence
                kwargs['logits_processor'] = [xgr.contrib.hf.LogitsProcessor(self._grammar(constraint))]
            seqs = self.model.generate(**enc, **kwargs)
        width = enc['input_ids'].shape[1]
        ids = [t for t in seqs[0, width:].tolist() if t != self.tokenizer.pad_token_id]
        raw = self.tokenizer.decode(ids, skip_special_tokens=True)
        text, stopped = cut_at_stop(raw, config.stop)
        hit_eos = bool(seqs.shape[1] > width and seqs[0, -1].item() == self.tokenizer.eos_token_id)
        reason = 'stop_word' if stopped else ('stop' if hit_eos else 'length')
        return Generation(text, width, len(ids), time.perf_counter() - start, reason)


def _row_budget(width: int, limits: Sequence[int], device):
    """A stopping criterion that ends each row after its own number of new tokens.

    HF's generate has one max_new_tokens per call; a criterion returning one flag per row makes generate mark that
    row finished (it is padded from then on) while the others go on, so each row gets exactly the tokens it would
    have got alone with its own limit."""
    import torch
    from transformers import StoppingCriteria

    class RowBudget(StoppingCriteria):
        def __init__(self):
            self.limits = torch.tensor(list(limits), device=device)

        def __call__(self, input_ids, scores, **kwargs):
            return (input_ids.shape[1] - width) >= self.limits

    return RowBudget()
