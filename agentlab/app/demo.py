"""`agentlab demo`: a Gradio chat driving the ReAct runtime, one model or two side by side (base vs tuned).

Every step shows as it streams: the thought, the tool call with its arguments, the observation, errors in their own
style; each step is a collapsible block and the final answer comes last. Settings: which tools, max steps,
temperature. Example prompts exercise every built-in tool; the last answer's trace(s) download as JSON.

Serving: binds 127.0.0.1 unless told otherwise, optional user:password auth, a request queue with a concurrency
limit, per-browser-session state (history, traces). Models are loaded once and shared; a tool that raises or a model
that fails becomes an error message in the chat, never a crash of the app.

    from agentlab.app.demo import DemoApp, Column, launch
    app = DemoApp([Column('base', make_backend('smollm2-135m'))], tools='calculator,dates')
    launch(app, host='127.0.0.1', port=7860)
"""

from __future__ import annotations

import html
import json
import os
import queue
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from agentlab.errors import AgentlabError

if TYPE_CHECKING:      # the runtime (tools, jsonschema, lagent) loads when the app is built, not on import
    from agentlab.runtime.trace import Trace, TraceStep
    from agentlab.runtime.backends import Backend
    from agentlab.runtime.protocol import Lang, ParseMode

# Offline by design: no analytics or update pings from Gradio.
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')

# One example per built-in tool (the knowledge one matches configs/knowledge/office.md).
EXAMPLES: dict[str, str] = {
    'calculator': 'What is 17 * 23 + 4?',
    'python': 'Use Python to compute the sum of the squares of the numbers 1 to 10.',
    'dates': 'How many days are there from 2024-01-01 to 2024-03-01?',
    'units': 'Convert 10 km to miles.',
    'knowledge': 'How many people does meeting room Aurora seat?',
    'arxiv': 'Find the arXiv paper "InternLM2 Technical Report".',
}

CSS = """
.agentlab-error { border-left: 4px solid #dc2626; background: rgba(220, 38, 38, 0.08); padding: 2px 10px;
                  color: #991b1b; }
.agentlab-error-title { color: #dc2626; font-weight: 600; }
.agentlab-final { border-left: 4px solid #16a34a; background: rgba(22, 163, 74, 0.08); padding: 2px 10px; }
.agentlab-observation { border-left: 3px solid #ca8a04; padding-left: 8px; }
.agentlab-action { border-left: 3px solid #0891b2; padding-left: 8px; }
.agentlab-pending { opacity: 0.7; }
"""

HELP = ('Each step is collapsible: thought, tool call and arguments, observation; errors in red; the final answer '
        'last. The model follows Lagent\'s ReAct protocol (Thought / Action / Action Input / Response / Final '
        'Answer); before tuning, small models rarely do.')


@dataclass
class Column:
    """One model in the demo: its display label and a (shared, thread-safe) backend."""
    label: str
    backend: Backend


# --- rendering steps as chat messages -------------------------------------------------------------------------

def _fence(text: str, lang: str = '') -> str:
    """A fenced code block that the text cannot break out of."""
    ticks = '```'
    while ticks in text:
        ticks += '`'
    return f'{ticks}{lang}\n{text}\n{ticks}'


def _esc(text: str) -> str:
    return html.escape(text or '', quote=False)


def _box(css_class: str, markdown: str) -> str:
    # Blank lines around the markdown keep it markdown inside the HTML block; the class survives sanitising.
    return f'<div class="{css_class}">\n\n{markdown}\n\n</div>'


def _title(text: str, error: bool = False) -> str:
    return f'<span class="agentlab-error-title">{_esc(text)}</span>' if error else _esc(text)


def step_messages(step: TraceStep) -> list[dict]:
    """Chat messages (Gradio's messages format) for one step; collapsible blocks carry a metadata title."""
    n = step.index + 1
    seconds = round(step.generation_seconds + step.tool_seconds, 2)
    thought = f'**Thought:** {_esc(step.thought)}' if step.thought else ''
    if step.kind == 'finish':
        out = []
        if step.thought:
            out.append({'role': 'assistant', 'content': _box('agentlab-step agentlab-thought', thought),
                        'metadata': {'title': f'Step {n} · Thought', 'duration': seconds}})
        out.append({'role': 'assistant',
                    'content': _box('agentlab-final', f'**Final Answer:** {_esc(step.answer or "")}')})
        return out
    if step.kind == 'give_up':
        return [{'role': 'assistant',
                 'content': _box('agentlab-error agentlab-give-up',
                                 'The model used every step without a final answer.'),
                 'metadata': {'title': _title(f'Step {n} · Stopped: max steps reached', True)}},
                {'role': 'assistant', 'content': _box('agentlab-final agentlab-give-up', _esc(step.answer or ''))}]
    parts = [thought] if thought else []
    if step.tool:
        args = json.dumps(step.arguments, ensure_ascii=False, indent=1) if step.arguments is not None else None
        parts.append(_box('agentlab-action', f'**Action:** `{_esc(step.tool)}`\n\n**Action Input:**\n\n'
                          + (_fence(args, 'json') if args is not None else '_(unparsed)_')))
    if step.error:
        label = {'no_action': 'no action in the output', 'invalid_json': 'invalid JSON arguments',
                 'invalid_arguments': 'arguments rejected by the schema', 'unknown_tool': 'unknown tool',
                 'tool_error': 'the tool raised'}.get(step.error, step.error)
        parts.append(f'**Error ({_esc(step.error)}):**\n\n{_fence(step.observation or "")}')
        if step.kind == 'format_error' or step.error == 'invalid_json':
            parts.append(f'**Model wrote:**\n\n{_fence(step.raw_output[:2000])}')
        title = f'Step {n} · Error: {label}' + (f' ({step.tool})' if step.tool else '')
        content = _box('agentlab-step agentlab-error', '\n\n'.join(parts))
        return [{'role': 'assistant', 'content': content,
                 'metadata': {'title': _title(title, True), 'duration': seconds}}]
    parts.append(_box('agentlab-observation', f'**Observation:**\n\n{_fence(step.observation or "")}'))
    if step.recoveries:
        parts.append(f'_tolerant parser recovered: {", ".join(step.recoveries)}_')
    return [{'role': 'assistant', 'content': _box('agentlab-step agentlab-call', '\n\n'.join(parts)),
             'metadata': {'title': f'Step {n} · Action: {_esc(step.tool or "")}', 'duration': seconds}}]


def pending_message(n: int) -> dict:
    # A plain message, not a collapsible one: the step that replaces it must not inherit an accordion's state.
    return {'role': 'assistant', 'content': _box('agentlab-pending', f'_Step {n}: the model is writing…_')}


def _is_pending(message: dict) -> bool:
    return 'agentlab-pending' in str(message.get('content', ''))


def error_message(text: str) -> dict:
    return {'role': 'assistant', 'content': _box('agentlab-error agentlab-model-error', f'**Error:** {_esc(text)}')}


def history_turns(trace: Trace) -> list[dict]:
    """What a finished exchange contributes to the next prompt's history: the question and the final answer, in the
    protocol's own form."""
    from agentlab.runtime import protocol
    last = trace.steps[-1] if trace.steps else None
    thought = last.thought if last and last.kind == 'finish' else ''
    return [{'role': 'user', 'content': trace.query},
            {'role': 'assistant', 'content': protocol.render_finish(thought, trace.final_answer or '')}]


# --- the app --------------------------------------------------------------------------------------------------

def new_state(columns: int) -> dict:
    return {'chats': [[] for _ in range(columns)], 'history': [[] for _ in range(columns)], 'traces': []}


class DemoApp:
    """Shared across sessions: the columns' backends and tool boxes. Per session (gr.State): chats, history,
    traces."""

    def __init__(self, columns: Sequence[Column], tools: str | Sequence[Any] | None = None, max_turns: int = 4,
                 temperature: float = 0.0, max_new_tokens: int = 256, parse_mode: ParseMode = 'tolerant',
                 lang: Lang = 'en', concurrency: int = 2, title: str = 'agentlab ReAct demo'):
        from agentlab.tools import load_action
        from agentlab.tools.builtin import DEFAULT_TOOLS
        if not 1 <= len(columns) <= 2:
            raise AgentlabError('the demo shows one model, or two side by side (--compare)')
        self.columns = list(columns)
        entries = (list(DEFAULT_TOOLS) if tools is None else
                   [t.strip() for t in tools.split(',') if t.strip()] if isinstance(tools, str) else list(tools))
        self.tools: dict[str, Any] = {}
        for entry in entries:
            if isinstance(entry, str):
                load_action(entry)          # fail at start-up, not on the first question
                self.tools[entry] = entry
            else:
                self.tools[getattr(entry, 'name', type(entry).__name__)] = entry
        self.max_turns, self.temperature, self.max_new_tokens = max_turns, temperature, max_new_tokens
        self.parse_mode, self.lang, self.concurrency, self.title = parse_mode, lang, concurrency, title
        self._boxes: dict[tuple[str, ...], Any] = {}
        self._boxes_lock = threading.Lock()
        self.trace_dir = Path(tempfile.mkdtemp(prefix='agentlab-demo-'))

    # tools are built once per selection and shared (built-ins are stateless or guard their own state)
    def toolbox(self, names: Sequence[str]):
        from agentlab.tools import ToolBox
        key = tuple(n for n in self.tools if n in set(names))
        with self._boxes_lock:
            if key not in self._boxes:
                self._boxes[key] = ToolBox([self.tools[n] for n in key])
            return self._boxes[key]

    def examples(self) -> list[str]:
        return [EXAMPLES[n] for n in self.tools if n in EXAMPLES]

    # one question, every column, steps streamed as they happen
    def answer(self, prompt: str, state: dict | None, tools: Sequence[str] | None = None,
               max_steps: float | None = None, temperature: float | None = None) -> Iterator[tuple]:
        from agentlab.runtime.agent import Agent
        from agentlab.runtime.backends import GenerationConfig
        state = state if state and len(state.get('chats', [])) == len(self.columns) else new_state(len(self.columns))
        prompt = (prompt or '').strip()
        if not prompt:
            yield self._outputs(state, prompt_value='')
            return
        tools = list(self.tools) if tools is None else list(tools)
        max_turns = int(max_steps or self.max_turns)
        temp = float(self.temperature if temperature is None else temperature)
        gen = GenerationConfig(max_new_tokens=self.max_new_tokens, temperature=temp)
        try:
            box = self.toolbox(tools)
        except Exception as exc:       # a tool that cannot even be built: say so, keep the app up
            for chat in state['chats']:
                chat += [{'role': 'user', 'content': _esc(prompt)}, error_message(f'cannot load the tools: {exc}')]
            yield self._outputs(state, prompt_value='')
            return
        events: queue.Queue = queue.Queue()
        traces: list[Trace | None] = [None] * len(self.columns)

        def work(i: int, column: Column) -> None:
            agent = Agent(column.backend, box, max_turns=max_turns, parse_mode=self.parse_mode, lang=self.lang,
                          generation=gen)
            try:
                for step in agent.stream(prompt, history=state['history'][i]):
                    events.put((i, 'step', step))
                traces[i] = agent.last_trace
                events.put((i, 'done', agent.last_trace))
            except BaseException as exc:   # the model failed (endpoint down, OOM, ...): an error, not a crash
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                events.put((i, 'error', f'{column.label}: {type(exc).__name__}: {msg}'[:500]))

        for chat in state['chats']:
            chat.append({'role': 'user', 'content': _esc(prompt)})
            chat.append(pending_message(1))
        yield self._outputs(state, prompt_value='')
        workers = [threading.Thread(target=work, args=(i, c), daemon=True) for i, c in enumerate(self.columns)]
        for w in workers:
            w.start()
        running = len(workers)
        while running:
            i, kind, payload = events.get()
            chat = state['chats'][i]
            if chat and _is_pending(chat[-1]):
                chat.pop()
            if kind == 'step':
                chat += step_messages(payload)
                if payload.kind not in ('finish', 'give_up'):
                    chat.append(pending_message(payload.index + 2))
            elif kind == 'done':
                running -= 1
                state['history'][i] += history_turns(payload)
            else:
                running -= 1
                chat.append(error_message(payload))
            yield self._outputs(state)
        done = [t for t in traces if t is not None]
        state['traces'] = [t.to_dict() for t in done]
        yield self._outputs(state, download=self._write_traces(state) if done else None)

    def _write_traces(self, state: dict) -> str:
        path = self.trace_dir / f'trace-{uuid.uuid4().hex[:12]}.json'
        path.write_text(json.dumps(state['traces'], ensure_ascii=False, indent=1))
        return str(path)

    def _outputs(self, state: dict, prompt_value: str | None = None, download: str | None = None) -> tuple:
        import gradio as gr
        prompt_update = gr.update(value=prompt_value) if prompt_value is not None else gr.update()
        download_update = gr.update(value=download, interactive=True) if download else gr.update()
        return (*[list(c) for c in state['chats']], state, prompt_update, download_update)

    def clear(self, state: dict | None) -> tuple:
        import gradio as gr
        fresh = new_state(len(self.columns))
        return (*fresh['chats'], fresh, gr.update(value=''), gr.update(value=None, interactive=False))

    def build(self):
        """The Gradio Blocks app (not launched)."""
        import gradio as gr
        with gr.Blocks(title=self.title, fill_width=True) as blocks:
            gr.Markdown(f'## {_esc(self.title)}\n{HELP}')
            with gr.Row(equal_height=False):
                with gr.Column(scale=4):
                    with gr.Row(elem_id='agentlab-columns'):
                        chats = []
                        for i, column in enumerate(self.columns):
                            chats.append(gr.Chatbot(label=column.label, elem_id=f'agentlab-chat-{i}',
                                                    elem_classes=['agentlab-chat'], height=560, layout='panel',
                                                    group_consecutive_messages=False, feedback_options=None,
                                                    buttons=['copy_all']))
                    with gr.Row():
                        prompt = gr.Textbox(placeholder='Ask something that needs a tool…', show_label=False,
                                            scale=6, elem_id='agentlab-prompt', lines=1, max_lines=6)
                        send = gr.Button('Send', variant='primary', scale=1, elem_id='agentlab-send')
                    examples = self.examples()
                    if examples:
                        gr.Examples([[e] for e in examples], inputs=[prompt],
                                    label='Example prompts (one per built-in tool)', elem_id='agentlab-examples')
                with gr.Column(scale=1, min_width=240):
                    tools = gr.CheckboxGroup(list(self.tools), value=list(self.tools), label='Tools',
                                             elem_id='agentlab-tools')
                    max_steps = gr.Slider(1, 12, value=self.max_turns, step=1, label='Max steps',
                                          elem_id='agentlab-max-steps')
                    temperature = gr.Slider(0.0, 1.5, value=self.temperature, step=0.05,
                                            label='Temperature (0 = greedy)', elem_id='agentlab-temperature')
                    download = gr.DownloadButton('Download trace (JSON)', value=None, interactive=False,
                                                 elem_id='agentlab-download')
                    clear = gr.Button('Clear conversation', elem_id='agentlab-clear')
            state = gr.State(new_state(len(self.columns)))
            outputs = [*chats, state, prompt, download]
            inputs = [prompt, state, tools, max_steps, temperature]
            # Both triggers share one queue slot pool: at most `concurrency` questions are answered at once.
            limit = dict(concurrency_limit=self.concurrency, concurrency_id='answer')
            send.click(self.answer, inputs, outputs, api_name='answer', **limit)
            prompt.submit(self.answer, inputs, outputs, api_name=False, **limit)
            clear.click(self.clear, [state], outputs, api_name=False)
        blocks.queue(default_concurrency_limit=self.concurrency, max_size=64)
        return blocks


def theme():
    import gradio as gr
    # System fonts only: the default theme would fetch web fonts, and the demo runs offline.
    return gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                             font_mono=['ui-monospace', 'SFMono-Regular', 'monospace'])


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(':')
    if not sep or not user or not password:
        raise AgentlabError('--auth must be USER:PASSWORD (both non-empty)')
    return user, password


def launch(app: DemoApp, host: str = '127.0.0.1', port: int = 7860, auth: str | None = None,
           block: bool = True, quiet: bool = True):
    """Build and serve ``app``. With ``block=False`` returns the running Blocks (call ``.close()`` to stop)."""
    from agentlab.serve.net import check_port_free
    check_port_free(host, port)
    blocks = app.build()
    blocks.launch(server_name=host, server_port=port, auth=parse_auth(auth), prevent_thread_lock=True,
                  quiet=quiet, show_error=True, ssr_mode=False, theme=theme(), css=CSS,
                  allowed_paths=[str(app.trace_dir)], max_threads=max(8, 4 * app.concurrency))
    if block:
        wait_and_close(blocks)
    return blocks


def wait_and_close(blocks) -> None:
    """Serve until Ctrl-C (or SIGTERM), then close the server."""
    from agentlab.procs import install_stop_signals, restore_signals
    previous = install_stop_signals()
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        blocks.close()
        restore_signals(previous)


def run_demo(model: str, compare: str | None = None, tools: str | None = None, host: str = '127.0.0.1',
             port: int = 7860, auth: str | None = None, max_turns: int = 4, temperature: float = 0.0,
             max_new_tokens: int = 256, concurrency: int = 2, out=print) -> None:
    """`agentlab demo`: load the model(s), serve the app, block until Ctrl-C."""
    from agentlab.serve.net import check_port_free, client_host
    parse_auth(auth)
    check_port_free(host, port)           # before minutes of model loading, not after
    from agentlab.runtime.backends import make_backend
    from agentlab.models import parse_model_spec
    specs = [parse_model_spec(model)] + ([parse_model_spec(compare)] if compare else [])
    columns = []
    for i, spec in enumerate(specs):
        out(f'loading {spec.text}…')
        label = spec.label if len(specs) == 1 else f'{"AB"[i]}: {spec.label}'
        columns.append(Column(label, make_backend(spec)))
    app = DemoApp(columns, tools=tools, max_turns=max_turns, temperature=temperature,
                  max_new_tokens=max_new_tokens, concurrency=concurrency)
    blocks = launch(app, host=host, port=port, auth=auth, block=False)
    url = f'http://{client_host(host)}:{port}/'
    out(f'demo ready: {url}' + (' (login required)' if auth else '') + ' (Ctrl-C stops it)', flush=True)
    wait_and_close(blocks)
    out('demo stopped')
