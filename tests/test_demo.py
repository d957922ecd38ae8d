"""The Gradio demo in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): every step type
rendering (recorded outputs replayed through the real runtime and tools), compare mode, per-session state, a raising
tool and a failing model that leave the app up, settings, auth, the trace download, and the real embedded model
through `agentlab demo`. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from lagent.actions import tool_api

from agentlab.runtime import protocol
from agentlab.app.demo import EXAMPLES, Column, DemoApp, launch
from agentlab.runtime.backends import Generation, GenerationConfig, ReplayBackend
from agentlab.serve.net import free_port
from agentlab.tools.base import AgentlabAction
from conftest import ARTIFACTS

CHROMIUM = '/usr/bin/chromium'
TIMEOUT_MS = 30_000


class Exploder(AgentlabAction):
    """A tool that always raises."""

    @tool_api
    def run(self, what: str) -> dict:
        """Blow something up.

        Args:
            what (str): the target
        """
        raise RuntimeError(f'boom: {what}')


class EchoBackend:
    """Answers every question with its own text; records what it was sent (per-session history checks)."""

    name = 'echo'

    def __init__(self):
        self.calls: list[tuple[list[dict], GenerationConfig]] = []
        self.lock = threading.Lock()

    def generate(self, batch, config):
        with self.lock:
            self.calls += [([dict(m) for m in b], config) for b in batch]
        return [Generation(protocol.render_finish('echo', f'you asked: {b[-1]["content"]}')) for b in batch]


class FlakyBackend:
    """Fails its first call the way a dead endpoint or an OOM would, then answers."""

    name = 'flaky'

    def __init__(self):
        self.calls = 0

    def generate(self, batch, config):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError('CUDA out of memory (simulated)')
        return [Generation(protocol.render_finish('recovered', 'back up')) for _ in batch]


@pytest.fixture(scope='module')
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("browser tests need Debian's chromium at /usr/bin/chromium: run `make browser` "
                    '(apt-get install chromium)')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=['--no-sandbox', '--disable-gpu', '--disable-background-networking'])
        yield b
        b.close()


@contextmanager
def running(app: DemoApp, auth: str | None = None):
    port = free_port()
    blocks = launch(app, host='127.0.0.1', port=port, auth=auth, block=False)
    try:
        yield f'http://127.0.0.1:{port}/', blocks
    finally:
        blocks.close()


VIEWPORT = {'width': 1400, 'height': 1100}


def open_page(target, url):
    """A page on the demo, from the browser (a fresh context) or an existing context."""
    page = target.new_page(viewport=VIEWPORT) if hasattr(target, 'new_context') else target.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector('#agentlab-prompt textarea')
    return page


def ask(page, text: str, column: int = 0, answers_before: int = 0):
    page.fill('#agentlab-prompt textarea', text)
    page.press('#agentlab-prompt textarea', 'Enter')
    page.locator(f'#agentlab-chat-{column} .agentlab-final').nth(answers_before).wait_for()


def shot(page, name: str) -> None:
    """A full-page screenshot with the chat panels unrolled, so every step is in the picture."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("""() => document.querySelectorAll('.agentlab-chat, .agentlab-chat .bubble-wrap').forEach(e => {
        e.style.height = 'auto'; e.style.maxHeight = 'none'; })""")
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def bot_messages(page, column: int = 0):
    return page.locator(f'#agentlab-chat-{column} [data-testid=bot]')


# --- every step type, deterministically -----------------------------------------------------------------------

def test_every_step_type_renders_collapsible_and_the_trace_downloads(browser):
    outputs = [protocol.render_action('I should multiply.', 'Calculator', {'expression': '17*23'}),
               'Thought: t\nAction: Calculator\nAction Input: {not json',
               protocol.render_action('Try the exploder.', 'Exploder', {'what': 'the moon'}),
               'I will just talk.',
               protocol.render_finish('Done.', '17*23 = 391')]
    app = DemoApp([Column('replayed', ReplayBackend(outputs))], tools=['calculator', 'dates', Exploder()],
                  max_turns=6)
    with running(app) as (url, _):
        page = open_page(browser, url)
        ask(page, 'What is 17*23?')
        chat = page.locator('#agentlab-chat-0')
        action = chat.locator('.agentlab-action').first
        assert 'Calculator' in action.inner_text() and '"expression": "17*23"' in action.inner_text()
        assert '391' in chat.locator('.agentlab-observation').first.inner_text()
        errors = chat.locator('.agentlab-error')
        texts = ' '.join(errors.all_inner_texts())
        assert errors.count() == 3
        assert 'invalid json format' in texts and 'boom: the moon' in texts and 'Please follow the format' in texts
        assert chat.locator('.agentlab-error-title').count() == 3
        # errors look different from observations
        red = errors.first.evaluate('e => getComputedStyle(e).borderLeftColor')
        calm = chat.locator('.agentlab-observation').first.evaluate('e => getComputedStyle(e).borderLeftColor')
        assert red == 'rgb(220, 38, 38)' and calm != red
        # the final answer comes last
        last = bot_messages(page).last
        assert last.locator('.agentlab-final').count() == 1 and '17*23 = 391' in last.inner_text()
        shot(page, 'demo-every-step.png')

        # each step is collapsible: closing step 1 hides its observation
        assert chat.locator('.agentlab-observation').count() == 1
        chat.locator('.thought-group .title').first.click()
        chat.locator('.agentlab-observation').wait_for(state='detached')

        with page.expect_download() as download:
            page.click('#agentlab-download')
        traces = json.loads(Path(download.value.path()).read_text())
        assert len(traces) == 1 and traces[0]['model'] == 'replay' and traces[0]['status'] == 'finished'
        assert [(s['kind'], s['error']) for s in traces[0]['steps']] == [
            ('call', None), ('args_error', 'invalid_json'), ('call', 'tool_error'), ('format_error', 'no_action'),
            ('finish', None)]

        # the raising tool left the app up: the next question is answered too
        ask(page, 'And again?', answers_before=1)
        assert chat.locator('.agentlab-error').count() == 6
        page.close()


def test_compare_mode_shows_two_models_side_by_side(browser):
    base = ReplayBackend(['The answer is probably 400.'])
    tuned = ReplayBackend([protocol.render_action('Use the calculator.', 'Calculator', {'expression': '17*23'}),
                           protocol.render_finish('The tool said 391.', '391')])
    app = DemoApp([Column('A: base', base), Column('B: tuned', tuned)], tools='calculator', max_turns=2)
    with running(app) as (url, _):
        page = open_page(browser, url)
        ask(page, 'What is 17*23?', column=1)
        page.locator('#agentlab-chat-0 .agentlab-final').wait_for()
        left, right = page.locator('#agentlab-chat-0'), page.locator('#agentlab-chat-1')
        lbox, rbox = left.bounding_box(), right.bounding_box()
        assert lbox['x'] + lbox['width'] <= rbox['x'] + 1 and abs(lbox['y'] - rbox['y']) < 5   # two columns
        assert 'A: base' in left.inner_text() and 'B: tuned' in right.inner_text()
        assert left.locator('.agentlab-error').count() == 3               # prose twice, then "stopped"
        assert protocol.DEFAULT_GIVE_UP in left.locator('.agentlab-final').inner_text()
        assert right.locator('.agentlab-error').count() == 0
        assert 'Calculator' in right.locator('.agentlab-action').inner_text()
        assert '391' in right.locator('.agentlab-observation').inner_text()
        assert '391' in right.locator('.agentlab-final').inner_text()
        shot(page, 'demo-compare.png')
        page.close()


# --- sessions, settings, failures -----------------------------------------------------------------------------

def test_two_browser_sessions_keep_their_own_history_and_settings_apply(browser):
    echo = EchoBackend()
    app = DemoApp([Column('echo', echo)], tools='calculator,dates', max_turns=4)
    with running(app) as (url, _):
        ctx_a, ctx_b = browser.new_context(viewport=VIEWPORT), browser.new_context(viewport=VIEWPORT)
        a, b = open_page(ctx_a, url), open_page(ctx_b, url)
        # both sessions ask at the same time
        a.fill('#agentlab-prompt textarea', 'alpha question')
        b.fill('#agentlab-prompt textarea', 'beta question')
        a.click('#agentlab-send')
        b.click('#agentlab-send')
        a.locator('#agentlab-chat-0 .agentlab-final').wait_for()
        b.locator('#agentlab-chat-0 .agentlab-final').wait_for()
        # settings: drop a tool, raise the temperature
        a.locator('#agentlab-tools label', has_text='dates').click()
        a.locator('#agentlab-temperature input[type=number]').fill('0.7')
        a.locator('#agentlab-temperature input[type=number]').press('Enter')
        ask(a, 'gamma question', answers_before=1)
        chat_a, chat_b = a.locator('#agentlab-chat-0').inner_text(), b.locator('#agentlab-chat-0').inner_text()
        assert 'alpha question' in chat_a and 'gamma question' in chat_a and 'beta' not in chat_a
        assert 'beta question' in chat_b and 'alpha' not in chat_b and 'gamma' not in chat_b
        shot(a, 'demo-session-a.png')
        shot(b, 'demo-session-b.png')
        # what the model saw for gamma: session A's history only, without the dropped tool, at the new temperature
        messages, config = echo.calls[-1]
        text = json.dumps(messages)
        assert 'alpha question' in text and 'beta' not in text and messages[-1]['content'] == 'gamma question'
        assert 'Calculator' in messages[0]['content'] and 'DateCalculator' not in messages[0]['content']
        assert config.temperature == pytest.approx(0.7)
        # "Clear conversation" empties this session only
        a.click('#agentlab-clear')
        a.wait_for_function("!document.querySelector('#agentlab-chat-0').innerText.includes('alpha question')")
        assert 'beta question' in b.locator('#agentlab-chat-0').inner_text()
        ctx_a.close()
        ctx_b.close()


def test_a_failing_model_shows_an_error_and_the_app_stays_up(browser):
    app = DemoApp([Column('flaky', FlakyBackend())], tools='calculator')
    with running(app) as (url, _):
        page = open_page(browser, url)
        page.fill('#agentlab-prompt textarea', 'first try')
        page.press('#agentlab-prompt textarea', 'Enter')
        err = page.locator('#agentlab-chat-0 .agentlab-model-error')
        err.wait_for()
        assert 'CUDA out of memory (simulated)' in err.inner_text() and 'flaky' in err.inner_text()
        shot(page, 'demo-model-error.png')
        ask(page, 'second try')
        assert 'back up' in page.locator('#agentlab-chat-0 .agentlab-final').inner_text()
        page.close()


def test_auth_queue_and_local_binding(browser):
    app = DemoApp([Column('echo', EchoBackend())], tools='calculator', concurrency=3)
    with running(app, auth='alice:wonderland') as (url, blocks):
        assert blocks.server_name == '127.0.0.1'
        assert blocks._queue.default_concurrency_limit == 3 and blocks._queue.max_size == 64
        answering = [fn for fn in blocks.fns.values() if getattr(fn.fn, '__name__', '') == 'answer']
        assert len(answering) == 2 and {(fn.concurrency_limit, fn.concurrency_id) for fn in answering} == {(3, 'answer')}
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.locator('input[type=password]').wait_for()
        assert page.locator('#agentlab-prompt').count() == 0
        page.locator('input[type=text]').first.fill('alice')
        page.locator('input[type=password]').fill('wonderland')
        page.locator('input[type=password]').press('Enter')
        page.wait_for_selector('#agentlab-prompt textarea')
        ask(page, 'hello behind a login')
        page.close()
    import inspect
    from agentlab.app.demo import run_demo
    assert inspect.signature(run_demo).parameters['host'].default == '127.0.0.1'
    assert inspect.signature(launch).parameters['host'].default == '127.0.0.1'


def test_examples_cover_every_built_in_tool(browser):
    from agentlab.tools.builtin import BUILTIN_ACTIONS
    assert set(EXAMPLES) == set(BUILTIN_ACTIONS)
    app = DemoApp([Column('echo', EchoBackend())])
    assert app.examples() == [EXAMPLES[n] for n in app.tools]
    with running(app) as (url, _):
        page = open_page(browser, url)
        page.locator('#agentlab-examples').get_by_text(EXAMPLES['units']).click()
        page.wait_for_function("document.querySelector('#agentlab-prompt textarea').value.includes('10 km')")
        page.close()


def test_demo_cli_one_line_errors():
    import socket
    from conftest import run_cli
    res = run_cli('demo', '--auth', 'no-colon-here', timeout=120)
    assert res.returncode == 1 and res.stderr.strip() == \
        'agentlab: error: --auth must be USER:PASSWORD (both non-empty)'
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = run_cli('demo', '--port', str(port), timeout=120)
    assert res.returncode == 1 and res.stderr.strip() == \
        f'agentlab: error: port {port} on 127.0.0.1 is already in use; pick another with --port'


def test_time_to_first_step_benchmark_is_registered_and_sees_only_the_new_question():
    from agentlab import perf
    from agentlab.perf.demo import _has_step
    assert perf.benchmark('demo').__name__ == 'demo_time_to_first_step'
    earlier = [{'role': 'user', 'content': 'q1'}, {'role': 'assistant', 'content': 'x',
                                                    'metadata': {'title': 'Step 1 · Action: Calculator'}}]
    pending = earlier + [{'role': 'user', 'content': 'q2'},
                         {'role': 'assistant', 'content': '<div class="agentlab-pending">…</div>'}]
    assert not _has_step((pending, {}, None, None))
    assert _has_step((pending[:-1] + [{'role': 'assistant', 'content': 'y',
                                       'metadata': {'title': 'Step 1 · Error: no action in the output'}}],))


# --- the real embedded model through the CLI ------------------------------------------------------------------

@pytest.mark.slow
def test_demo_cli_with_the_embedded_model(browser, embedded_model):
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / 'agentlab'), 'demo', '--model', 'smollm2-135m',
                             '--tools', 'calculator', '--port', str(port), '--max-turns', '1',
                             '--max-new-tokens', '16'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    try:
        for line in proc.stdout:
            if line.startswith('demo ready'):
                break
        assert line.startswith(f'demo ready: http://127.0.0.1:{port}/'), line + proc.stderr.read()
        page = open_page(browser, f'http://127.0.0.1:{port}/')
        started = time.monotonic()
        page.fill('#agentlab-prompt textarea', 'What is 2+2?')
        page.press('#agentlab-prompt textarea', 'Enter')
        page.locator('#agentlab-chat-0 .thought-group').first.wait_for(timeout=120_000)
        first_step = time.monotonic() - started
        page.locator('#agentlab-chat-0 .agentlab-final').wait_for(timeout=120_000)
        answer = page.locator('#agentlab-chat-0 .agentlab-final').inner_text().strip()
        assert answer        # the untuned model rarely follows the protocol: its answer or Lagent's give-up text
        shot(page, 'demo-embedded-model.png')
        print(f'time to first step in the browser: {first_step:.1f}s')
        page.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        assert 'demo stopped' in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
