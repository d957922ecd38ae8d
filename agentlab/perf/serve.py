"""Load on agentlab's OpenAI-compatible server (`agentlab perf --only serve`): N concurrent clients for a bounded
time beside one client at a time, against `agentlab serve` started on loopback for the benchmark.

Each request is a real function-calling request (two tools, a named tool_choice that alternates between them, so a
misrouted answer is visible: every reply must call the tool its own request named). Reported: requests/s and
p50/p95 latency for both sides, the throughput ratio (concurrent / sequential: what dynamic batching buys), and
that nothing was lost (every request answered, each with its own tool).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

TOOLS = [
    {'type': 'function', 'function': {'name': 'set_alarm', 'description': 'Set an alarm.', 'parameters': {
        'type': 'object', 'properties': {'hour': {'type': 'integer', 'minimum': 0, 'maximum': 23}},
        'required': ['hour']}}},
    {'type': 'function', 'function': {'name': 'set_timer', 'description': 'Set a timer in minutes.', 'parameters': {
        'type': 'object', 'properties': {'minutes': {'type': 'integer', 'minimum': 1, 'maximum': 90}},
        'required': ['minutes']}}},
]


def _load(client, clients: int, seconds: float, max_tokens: int) -> dict:
    """``clients`` threads sending requests back to back until ``seconds`` pass; every answer checked."""
    latencies: list[float] = []
    wrong = errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(k: int) -> None:
        nonlocal wrong, errors
        i = 0
        while time.monotonic() < deadline:
            name = TOOLS[(k + i) % 2]['function']['name']
            start = time.perf_counter()
            try:
                r = client.chat.completions.create(
                    model='bench', messages=[{'role': 'user', 'content': f'Request {k}-{i}: wake me up.'}],
                    tools=TOOLS, tool_choice={'type': 'function', 'function': {'name': name}}, max_tokens=max_tokens)
                ok = r.choices[0].message.tool_calls and r.choices[0].message.tool_calls[0].function.name == name
            except Exception:  # noqa: BLE001 - counted as lost
                with lock:
                    errors += 1
                i += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
                wrong += not ok
            i += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    lat = sorted(latencies)
    return {'clients': clients, 'requests': len(lat), 'errors': errors, 'wrong_tool': wrong,
            'wall_seconds': round(wall, 2), 'requests_per_second': round(len(lat) / wall, 4),
            'p50_seconds': round(statistics.median(lat), 3) if lat else None,
            'p95_seconds': round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3) if lat else None}


def serve_load(model: str = 'smollm2-135m', clients: int = 8, seconds: float = 60.0, max_tokens: int = 48):
    from openai import OpenAI

    from agentlab.perf import BenchResult
    from agentlab.serve.net import free_port
    from agentlab.serve.server import ServeOptions, prepare_server

    # the same child process, health check and group stop as `agentlab serve`
    server, info = prepare_server(model, None, ServeOptions(port=free_port(), served_model_names=('bench',),
                                                                threads=int(os.environ.get('OMP_NUM_THREADS', '1'))))
    server.start()
    try:
        server.wait_ready()
        client = OpenAI(base_url=info.base_url, api_key='unused', max_retries=0, timeout=600)
        client.chat.completions.create(model='bench', messages=[{'role': 'user', 'content': 'warm up'}], tools=TOOLS,
                                       tool_choice='required', max_tokens=max_tokens)
        one = _load(client, 1, seconds, max_tokens)
        many = _load(client, clients, seconds, max_tokens)
    finally:
        server.stop()
    ratio = round(many['requests_per_second'] / max(one['requests_per_second'], 1e-9), 3)
    lost = many['errors'] + many['wrong_tool'] + one['errors'] + one['wrong_tool']
    return BenchResult('serve', f'requests/s, {clients} concurrent clients vs 1', many['requests_per_second'],
                       one['requests_per_second'], ratio, '> 1.5x, nothing lost', ratio > 1.5 and lost == 0,
                       {'model': model, 'max_tokens': max_tokens, 'seconds': seconds, 'sequential': one,
                        'concurrent': many, 'server': str(Path(model))})
