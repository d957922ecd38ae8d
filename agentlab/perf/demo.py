"""Demo time to first step (`agentlab perf --only demo`): how long after a question is sent to `agentlab demo` its
first ReAct step arrives, beside the same agent's first step called in-process.

The demo side goes over HTTP through Gradio's queue (gradio_client, the protocol the browser speaks) to the app
`agentlab demo` builds; the baseline calls `Agent.stream` directly. Same loaded model (shared, as in the demo), same
questions, same tools and generation settings. Medians over ``repeats`` questions, after one warm-up each.
"""

from __future__ import annotations

import statistics
import time

TOOLS = ['calculator', 'dates', 'units']


def demo_time_to_first_step(model: str = 'smollm2-135m', max_new_tokens: int = 32, repeats: int = 3):
    from gradio_client import Client

    from agentlab.runtime.agent import Agent
    from agentlab.app.demo import Column, DemoApp, launch
    from agentlab.perf import BenchResult
    from agentlab.perf.runtime import RUNTIME_QUESTIONS
    from agentlab.runtime.backends import GenerationConfig, make_backend
    from agentlab.serve.net import free_port
    from agentlab.tools import ToolBox

    backend = make_backend(model)
    gen = GenerationConfig(max_new_tokens=max_new_tokens)
    questions = RUNTIME_QUESTIONS[:repeats]
    tools = ToolBox.from_spec(','.join(TOOLS))
    next(Agent(backend, tools, max_turns=1, generation=gen).stream(questions[0]))      # warm-up
    direct = []
    for q in questions:
        agent = Agent(backend, tools, max_turns=1, generation=gen)
        start = time.perf_counter()
        next(agent.stream(q))
        direct.append(time.perf_counter() - start)

    app = DemoApp([Column(model, backend)], tools=','.join(TOOLS), max_turns=1, max_new_tokens=max_new_tokens)
    port = free_port()
    blocks = launch(app, host='127.0.0.1', port=port, block=False)
    via_demo = []
    try:
        url = f'http://127.0.0.1:{port}/'
        Client(url, verbose=False).predict(questions[0], TOOLS, 1, 0.0, api_name='/answer')   # warm-up
        for q in questions:
            client = Client(url, verbose=False)      # a fresh session: no history, the same prompt as in-process
            start = time.perf_counter()
            job = client.submit(q, TOOLS, 1, 0.0, api_name='/answer')
            seen = None
            while seen is None and not job.done():
                for update in job.outputs():
                    if _has_step(update):
                        seen = time.perf_counter() - start
                        break
                time.sleep(0.005)
            job.result()
            via_demo.append(seen if seen is not None else time.perf_counter() - start)
    finally:
        blocks.close()
    value, baseline = statistics.median(via_demo), statistics.median(direct)
    ratio = value / baseline
    return BenchResult('demo time to first step', 'demo s / in-process s', round(value, 3), round(baseline, 3),
                       round(ratio, 3), '< 1.25', ratio < 1.25,
                       {'model': model, 'max_new_tokens': max_new_tokens, 'questions': len(questions),
                        'demo_s': [round(x, 3) for x in via_demo], 'in_process_s': [round(x, 3) for x in direct]})


def _has_step(update) -> bool:
    """Whether a streamed demo update shows step 1 (a collapsible step block, or the final answer)."""
    chat = update[0] if isinstance(update, (list, tuple)) and update else []
    chat = chat if isinstance(chat, list) else []
    users = [i for i, m in enumerate(chat) if isinstance(m, dict) and m.get('role') == 'user']
    for m in chat[users[-1] + 1:] if users else []:
        if not isinstance(m, dict):
            continue
        title = (m.get('metadata') or {}).get('title') or ''
        if 'Step 1 ·' in title or 'agentlab-final' in str(m.get('content')):
            return True
    return False
