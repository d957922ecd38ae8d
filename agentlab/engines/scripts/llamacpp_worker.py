"""One llama.cpp generation slot: loads a GGUF with llama-cpp-python and answers JSON-lines requests on stdin.

Run by agentlab's llamacpp backend with the llamacpp environment's python (it imports only what that environment
has). The prompt arrives already rendered (agentlab renders the GGUF's chat template with the same Jinja code as
transformers' apply_chat_template), so every engine sees the same text; this slot tokenizes it with the model's own
vocabulary (special tokens parsed, no BOS added, as the transformers engine does), decodes greedily or by sampling,
and stops at end-of-generation tokens or at the first stop word.

  python llamacpp_worker.py MODEL.gguf --threads 1 --ctx 4096
  stdin : {"id": 1, "prompt": "...", "max_tokens": 256, "stop": ["<|im_end|>"], "temperature": 0, "top_p": 1, "seed": null,
           "grammar": null | {"kind": "choice", "options": ["a", "b"]} | {"kind": "json", "schema": {...}}}
  stdout: {"id": 1, "text": "...", "prompt_tokens": 300, "completion_tokens": 41, "finish_reason": "stop_word",
           "seconds": 0.8}     (or {"id": 1, "error": "..."}); the first line is {"ready": true, ...}.

llama.cpp keeps the previous prompt's KV cache: Llama.generate reuses the longest common prefix, so the turns of one
ReAct episode (each extends the last) only prefill what is new.
"""

import argparse
import json
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--ctx', type=int, default=4096)
    args = ap.parse_args()

    import llama_cpp
    from llama_cpp import Llama

    out = sys.stdout
    sys.stdout = sys.stderr            # anything llama-cpp-python prints must not corrupt the reply stream
    started = time.perf_counter()
    llm = Llama(model_path=args.model, n_ctx=args.ctx, n_threads=args.threads, n_threads_batch=args.threads,
                n_batch=512, seed=0, verbose=False, logits_all=False)
    vocab = llm._model.vocab

    def reply(obj) -> None:
        out.write(json.dumps(obj) + '\n')
        out.flush()

    reply({'ready': True, 'n_ctx': llm.n_ctx(), 'load_seconds': round(time.perf_counter() - started, 3),
           'llama_cpp_python': llama_cpp.__version__})

    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            reply(generate(llm, vocab, llama_cpp, req))
        except Exception as e:  # noqa: BLE001 - reported to the caller, who raises it with context
            reply({'id': req.get('id'), 'error': f'{type(e).__name__}: {e}'})


_GRAMMARS: dict = {}


def grammar_for(spec: dict | None):
    """A llama.cpp grammar for a constraint: one of a few strings, or JSON matching a schema (llama.cpp's own
    JSON-schema-to-GBNF converter). Cached: the same tools come back request after request."""
    if not spec:
        return None
    from llama_cpp import LlamaGrammar
    key = json.dumps(spec, sort_keys=True)
    if key not in _GRAMMARS:
        if spec['kind'] == 'choice':
            _GRAMMARS[key] = LlamaGrammar.from_string(
                'root ::= ' + ' | '.join(json.dumps(o, ensure_ascii=False) for o in spec['options']), verbose=False)
        else:
            _GRAMMARS[key] = LlamaGrammar.from_json_schema(json.dumps(spec['schema']), verbose=False)
    return _GRAMMARS[key]


def generate(llm, vocab, llama_cpp, req: dict) -> dict:
    start = time.perf_counter()
    prompt = llm.tokenize(req['prompt'].encode('utf-8'), add_bos=False, special=True)
    max_tokens = int(req['max_tokens'])
    if len(prompt) + max_tokens > llm.n_ctx():
        room = llm.n_ctx() - len(prompt)
        if room <= 0:
            raise ValueError(f'the prompt has {len(prompt)} tokens; the context holds {llm.n_ctx()}')
        max_tokens = room
    stop = [s for s in req.get('stop') or [] if s]
    temperature = float(req.get('temperature') or 0.0)
    if temperature > 0 and req.get('seed') is not None:
        llm.set_seed(int(req['seed']))
    sampling = (dict(temp=temperature, top_p=float(req.get('top_p', 1.0)), top_k=0, min_p=0.0) if temperature > 0
                else dict(temp=0.0, top_k=1, top_p=1.0, min_p=0.0))
    ids: list[int] = []
    text, reason = '', 'length'
    if max_tokens > 0:
        grammar = grammar_for(req.get('grammar'))
        for token in llm.generate(prompt, repeat_penalty=1.0, reset=True, grammar=grammar, **sampling):
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                reason = 'stop'
                break
            ids.append(token)
            text = llm.detokenize(ids).decode('utf-8', errors='ignore')
            cut = min((i for i in (text.find(s) for s in stop) if i != -1), default=-1)
            if cut != -1:
                text, reason = text[:cut], 'stop_word'
                break
            if len(ids) >= max_tokens:
                break
    return {'id': req.get('id'), 'text': text, 'prompt_tokens': len(prompt), 'completion_tokens': len(ids),
            'finish_reason': reason, 'seconds': round(time.perf_counter() - start, 4)}


if __name__ == '__main__':
    main()
