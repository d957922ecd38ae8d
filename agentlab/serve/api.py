"""agentlab's own OpenAI-compatible server: ``/v1/chat/completions`` with function calling for any model agentlab
tunes, on any engine with a backend (in-process transformers, llama.cpp for GGUF, LMDeploy's pipeline on GPU).

    python -m agentlab.serve.api MODEL [--engine transformers|llamacpp|lmdeploy] [--host 127.0.0.1] [--port 8000]
        [--served-model-name NAME ...] [--free-decoding] [--threads N] [--slots N] [--dtype float32]

``agentlab serve`` starts it as a child process (health-checked, stopped as a group). The API key, when set, comes
in the environment (AGENTLAB_SERVE_API_KEY), never on a command line. What each request field does is in
docs/serving.md; the request <-> protocol mapping is agentlab.serve.bridge, tool_choice is agentlab.serve.decode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from agentlab.engines.hf_serve import API_KEY_ENV   # the key comes in the environment, never in argv
from agentlab.errors import AgentlabError
from agentlab.runtime import protocol
from agentlab.runtime.backends.base import Generation, GenerationConfig, Messages
from agentlab.serve.bridge import (Reply, RequestError, ThoughtMemory, ToolSet, parse_tool_choice, render_passthrough,
                                   render_request, reply_from_text)
from agentlab.serve.decode import decode

DEFAULT_MAX_TOKENS = 512
# OpenAI request fields this server reads; a field of OpenAI's API that is not here is accepted when it is unset or
# at its neutral value, and refused (400, naming it) when it asks for something this server does not do.
UNSUPPORTED_UNLESS_NEUTRAL = {
    'n': (None, 1), 'logprobs': (None, False), 'top_logprobs': (None, 0), 'logit_bias': (None, {}),
    'frequency_penalty': (None, 0, 0.0), 'presence_penalty': (None, 0, 0.0), 'audio': (None,),
    'modalities': (None, ['text']), 'prediction': (None,), 'web_search_options': (None,),
}

# --- dynamic batching -----------------------------------------------------------------------------------------

class Batcher:
    """Concurrent requests' free generations, gathered into one backend.generate call.

    One thread owns the backend; whatever arrived while the last batch ran goes into the next one (up to
    ``max_batch``), with each row's own token limit, grouped by the settings a batch must share (stop words,
    temperature). On llama.cpp a batch is spread over its slots; on transformers it is one padded forward pass."""

    def __init__(self, backend, max_batch: int = 8):
        self.backend = backend
        self.name = getattr(backend, 'name', 'model')
        self.max_batch = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()           # continue_text phases and batches never overlap on one backend
        if hasattr(backend, 'continue_text'):   # decode() asks for it only when a phase needs it
            self.continue_text = self._continue_text
        threading.Thread(target=self._loop, daemon=True, name='agentlab-batcher').start()

    def generate(self, messages: Messages, config: GenerationConfig) -> Generation:
        fut: Future = Future()
        self._queue.put((messages, config, fut))
        return fut.result()

    def _continue_text(self, *args, **kwargs) -> Generation:
        with self._lock:
            return self.backend.continue_text(*args, **kwargs)

    def _loop(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self.max_batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            groups: dict[tuple, list] = {}
            for item in items:
                c = item[1]
                groups.setdefault((tuple(c.stop), c.temperature, c.top_p, c.seed), []).append(item)
            for group in groups.values():
                live = [it for it in group if it[2].set_running_or_notify_cancel()]
                if not live:
                    continue
                config = replace(live[0][1], max_new_tokens=max(it[1].max_new_tokens for it in live))
                try:
                    with self._lock:
                        out = self.backend.generate([it[0] for it in live], config,
                                                    [it[1].max_new_tokens for it in live])
                except BaseException as exc:  # noqa: BLE001 - every waiting request gets the error
                    for it in live:
                        it[2].set_exception(exc)
                    continue
                for it, g in zip(live, out):
                    it[2].set_result(g)


# --- requests -------------------------------------------------------------------------------------------------

@dataclass
class Prepared:
    messages: Messages
    tools: ToolSet
    choice: Any
    config: GenerationConfig
    stream: bool
    include_usage: bool
    model: str


def prepare(body: Any, served: list[str], memory: ThoughtMemory) -> Prepared:
    """Validate a chat-completions body and render it; RequestError names the first field that is wrong."""
    if not isinstance(body, Mapping):
        raise RequestError('the request body must be a JSON object')
    for key, neutral in UNSUPPORTED_UNLESS_NEUTRAL.items():
        if key in body and body[key] not in neutral:
            raise RequestError(f'{key}={body[key]!r} is not supported by this server', param=key)
    if body.get('functions') or body.get('function_call'):
        raise RequestError('functions/function_call are the deprecated form; send tools and tool_choice', param='functions')
    fmt = body.get('response_format')
    if fmt not in (None, {'type': 'text'}):
        raise RequestError('response_format other than {"type": "text"} is not supported; use tools with '
                           'tool_choice to get JSON that matches a schema', param='response_format')
    model = body.get('model')
    if model not in served:
        raise RequestError(f'model {model!r} is not served here; GET /v1/models lists: {", ".join(served)}',
                           status=404, param='model', code='model_not_found')
    tools = ToolSet.from_request(body.get('tools'))
    choice = parse_tool_choice(body.get('tool_choice'), tools)
    if tools:
        messages = render_request(body.get('messages'), tools, memory)
    else:
        messages = render_passthrough(body.get('messages'))
    max_tokens = body.get('max_completion_tokens')
    max_tokens = body.get('max_tokens') if max_tokens is None else max_tokens
    max_tokens = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise RequestError('max_tokens must be a positive integer', param='max_tokens')
    temperature = body.get('temperature')
    temperature = 1.0 if temperature is None and not tools else (temperature or 0.0)
    if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise RequestError('temperature must be a number from 0 to 2', param='temperature')
    if tools and temperature > 0 and choice.mode != 'auto':
        temperature = 0.0       # forced and constrained phases decode greedily; say so in docs/serving.md
    top_p = body.get('top_p', 1.0) if body.get('top_p') is not None else 1.0
    stop = body.get('stop') or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) for s in stop):
        raise RequestError('stop must be a string or a list of up to 4 strings', param='stop')
    # with tools, the protocol's own stop words always apply (a model never writes a tool's result itself)
    stops = tuple(stop) + (protocol.STOP_WORDS if tools else ())
    config = GenerationConfig(max_new_tokens=max_tokens, temperature=float(temperature), top_p=float(top_p),
                              stop=stops, seed=body.get('seed'))
    opts = body.get('stream_options') or {}
    return Prepared(messages, tools, choice, config, bool(body.get('stream')), bool(opts.get('include_usage')), model)


def complete(p: Prepared, batcher: Batcher, memory: ThoughtMemory, constrained: bool) -> tuple[Reply, dict]:
    if p.tools:
        d = decode(batcher, p.messages, p.tools, p.choice, p.config, constrained=constrained,
                   generate=batcher.generate)
        reply = reply_from_text(d.text, p.tools, d.length_cut, memory)
        usage = (d.prompt_tokens, d.completion_tokens)
    else:
        g = batcher.generate(p.messages, p.config)
        reply = Reply(g.text, [], '', 'length' if g.finish_reason == 'length' else 'stop')
        usage = (g.prompt_tokens, g.completion_tokens)
    return reply, {'prompt_tokens': usage[0], 'completion_tokens': usage[1], 'total_tokens': usage[0] + usage[1]}


def completion_body(reply: Reply, usage: dict, model: str, cid: str, created: int) -> dict:
    return {'id': cid, 'object': 'chat.completion', 'created': created, 'model': model,
            'choices': [{'index': 0, 'message': reply.message(), 'finish_reason': reply.finish_reason,
                         'logprobs': None}],
            'usage': usage}


def stream_chunks(reply: Reply, usage: dict | None, model: str, cid: str, created: int,
                  pieces: int = 24) -> Iterator[dict]:
    """The answer as OpenAI's streamed deltas: role first; then content in pieces, or per call its id, type and
    name, then argument fragments; the finish reason; usage last when asked (choices empty, as OpenAI sends it)."""
    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {'id': cid, 'object': 'chat.completion.chunk', 'created': created, 'model': model,
                'choices': [{'index': 0, 'delta': delta, 'finish_reason': finish, 'logprobs': None}]}

    yield chunk({'role': 'assistant', 'content': '' if not reply.tool_calls else None})
    if reply.content:
        for piece in _pieces(reply.content, pieces):
            yield chunk({'content': piece})
    for i, call in enumerate(reply.tool_calls):
        yield chunk({'tool_calls': [{'index': i, 'id': call.id, 'type': 'function',
                                     'function': {'name': call.name, 'arguments': ''}}]})
        for piece in _pieces(call.arguments, pieces):
            yield chunk({'tool_calls': [{'index': i, 'function': {'arguments': piece}}]})
    yield chunk({}, reply.finish_reason)
    if usage is not None:
        yield {'id': cid, 'object': 'chat.completion.chunk', 'created': created, 'model': model, 'choices': [],
               'usage': usage}


def _pieces(text: str, size: int) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i:i + size]


# --- the app --------------------------------------------------------------------------------------------------

def create_app(backend, served: list[str], api_key: str | None = None, constrained: bool = True,
               max_batch: int = 8):
    app = FastAPI(title='agentlab serve', docs_url=None, redoc_url=None)
    batcher = Batcher(backend, max_batch)
    memory = ThoughtMemory()
    app.state.backend, app.state.batcher = backend, batcher

    def error(status: int, message: str, param: str | None = None, code: str = 'invalid_request_error'):
        return JSONResponse({'error': {'message': message, 'type': code if status < 500 else 'server_error',
                                       'param': param, 'code': code}}, status_code=status)

    @app.middleware('http')
    async def auth(request: Request, call_next):
        if api_key and request.url.path != '/health' and \
                request.headers.get('authorization') != f'Bearer {api_key}':
            return error(401, 'missing or wrong API key (send Authorization: Bearer KEY)', code='invalid_api_key')
        return await call_next(request)

    @app.get('/health')
    async def health():
        return {'status': 'ok'}

    @app.get('/v1/models')
    async def models():
        return {'object': 'list', 'data': [{'id': n, 'object': 'model', 'created': 0, 'owned_by': 'agentlab'}
                                           for n in served]}

    @app.post('/v1/chat/completions')
    async def chat(request: Request):
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return error(400, f'the request body is not valid JSON: {exc}')
        try:
            p = prepare(body, served, memory)
        except RequestError as exc:
            return error(exc.status, exc.message, exc.param, exc.code)
        cid, created = 'chatcmpl-' + uuid.uuid4().hex, int(time.time())
        try:
            reply, usage = await run_in_threadpool(complete, p, batcher, memory, constrained)
        except AgentlabError as exc:
            text = str(exc)
            if 'context holds' in text or 'context length' in text:
                return error(400, text, 'messages', 'context_length_exceeded')
            return error(500, text, code='engine_error')
        if not p.stream:
            return completion_body(reply, usage, p.model, cid, created)

        async def events():
            for c in stream_chunks(reply, usage if p.include_usage else None, p.model, cid, created):
                if await request.is_disconnected():
                    return
                yield f'data: {json.dumps(c, ensure_ascii=False)}\n\n'
                await asyncio.sleep(0)
            yield 'data: [DONE]\n\n'

        return StreamingResponse(events(), media_type='text/event-stream')

    return app


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog='python -m agentlab.serve.api', description=__doc__.split('\n\n')[0])
    ap.add_argument('model')
    ap.add_argument('--engine', default=None, choices=('transformers', 'llamacpp', 'lmdeploy'))
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=8000)
    ap.add_argument('--served-model-name', action='append', default=None)
    ap.add_argument('--free-decoding', action='store_true')
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--slots', type=int, default=None)
    ap.add_argument('--dtype', default='float32')
    ap.add_argument('--device', default=None)
    ap.add_argument('--max-batch', type=int, default=8)
    args = ap.parse_args(argv)
    import uvicorn
    from agentlab.runtime.backends import BackendOptions, make_backend
    try:
        backend = make_backend(args.model, BackendOptions(engine=args.engine, threads=args.threads, slots=args.slots,
                                                          dtype=args.dtype, device=args.device,
                                                          batch_size=args.max_batch))
    except AgentlabError as exc:
        raise SystemExit(f'agentlab: error: {exc}') from None
    except Exception as exc:  # noqa: BLE001 - a model that does not load: one line for agentlab serve to show
        raise SystemExit(f'agentlab: error: cannot load {args.model}: {type(exc).__name__}: '
                         f'{str(exc).splitlines()[0] if str(exc) else ""}') from None
    served = args.served_model_name or [args.model]
    app = create_app(backend, served, os.environ.get(API_KEY_ENV) or None, constrained=not args.free_decoding,
                     max_batch=args.max_batch)
    print(f'agentlab serve: {args.model} as {", ".join(served)} on http://{args.host}:{args.port}/v1 '
          f'({"free" if args.free_decoding else "constrained"} decoding)', flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level='warning')


if __name__ == '__main__':
    main()
