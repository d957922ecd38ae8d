"""The sandbox contains hostile model-written code, and the host and the agent stay up."""

import os
import socket
import threading
import time

import pytest

from agentlab.tools.sandbox import Limits, isolation_report, run_python

REPORT = isolation_report()
FULL = all(ok for ok, _ in REPORT.values())
needs = pytest.mark.skipif(not FULL, reason='this OS cannot isolate: ' + '; '.join(
    f'{k}: {d}' for k, (ok, d) in REPORT.items() if not ok))
FAST = Limits(wall_seconds=10, cpu_seconds=3)


def test_isolation_report_says_what_is_active():
    assert set(REPORT) == {'limits', 'user', 'network', 'filesystem', 'processes', 'environment'}
    for ok, detail in REPORT.values():
        assert isinstance(ok, bool) and detail


def test_ordinary_code_runs():
    res = run_python('print(sum(range(101)))')
    assert res.exit_code == 0 and res.stdout.strip() == '5050' and not res.timed_out


def test_infinite_loop_is_stopped_and_host_stays_responsive():
    ticks = []
    stop = threading.Event()

    def heartbeat():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.1)
    t = threading.Thread(target=heartbeat)
    t.start()
    start = time.monotonic()
    res = run_python('while True:\n    pass', FAST)
    stop.set()
    t.join()
    assert res.exit_code != 0 and time.monotonic() - start < 10
    assert 'CPU time limit' in res.stderr or res.timed_out
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert max(gaps) < 1.0   # the parent kept running


def test_sleeping_code_hits_the_wall_clock():
    res = run_python('import time\ntime.sleep(60)', Limits(wall_seconds=2))
    assert res.timed_out and res.seconds < 10


def test_memory_bomb():
    res = run_python('x = bytearray(4 * 1024**3)\nprint("allocated")', FAST)
    assert 'allocated' not in res.stdout and 'MemoryError' in res.stderr


@needs
def test_fork_bomb_is_contained():
    code = ('import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            import time; '
            'time.sleep(30)\n        n += 1\nexcept OSError:\n    print("stopped at", n)')
    start = time.monotonic()
    res = run_python(code, FAST)
    assert 'stopped at' in res.stdout and int(res.stdout.split()[-1]) < 64
    assert time.monotonic() - start < 15
    assert run_python('print("still fine")').stdout.strip() == 'still fine'


def test_huge_output_is_capped():
    res = run_python('import sys\nfor _ in range(200):\n    sys.stdout.write("x" * 100000)', FAST)
    assert res.truncated and len(res.stdout) <= FAST.output_bytes


@needs
def test_cannot_write_outside_its_folder(tmp_path):
    target = tmp_path / 'pwned'
    os.chmod(tmp_path, 0o777)   # even a world-writable folder of the host is out of reach
    code = (f'for p in [{str(target)!r}, "/root/pwned", "/etc/pwned", "/tmp/agentlab-escape"]:\n'
            '    try:\n        open(p, "w").write("x"); print("wrote", p)\n'
            '    except OSError as e:\n        print("denied", p, type(e).__name__)')
    res = run_python(code, FAST)
    assert not target.exists() and not os.path.exists('/root/pwned') and not os.path.exists('/etc/pwned')
    assert not os.path.exists('/tmp/agentlab-escape')   # its /tmp is a private tmpfs
    assert 'wrote /tmp/agentlab-escape' in res.stdout   # ... which it may use


def test_parent_secrets_are_not_visible(monkeypatch):
    monkeypatch.setenv('AGENTLAB_TEST_SECRET', 'hunter2')
    code = ('import os\nprint(sorted(os.environ))\nprint(any("hunter2" in v for v in os.environ.values()))\n'
            'try:\n    print(open("/proc/1/environ").read())\nexcept OSError as e:\n    print("denied")')
    res = run_python(code, FAST)
    assert 'hunter2' not in res.stdout and 'AGENTLAB_TEST_SECRET' not in res.stdout


@needs
def test_cannot_reach_a_loopback_port():
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        code = (f'import socket\ns = socket.socket(); s.settimeout(3)\nprint("result", s.connect_ex(("127.0.0.1", '
                f'{port})))')
        res = run_python(code, FAST)
        assert res.stdout.startswith('result') and res.stdout.split()[-1] != '0'
        server.settimeout(0.5)
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()


@needs
def test_subprocesses_are_unprivileged_and_die_with_it():
    code = ('import subprocess\nprint(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout)\n'
            'subprocess.Popen(["sleep", "300"])\nprint("spawned")')
    res = run_python(code, FAST)
    assert res.stdout.split()[0] == '65534' and 'spawned' in res.stdout
    time.sleep(0.5)
    leftovers = os.popen('pgrep -u 65534 -f "sleep 300"').read().strip()
    assert leftovers == ''


def test_agent_keeps_running_after_hostile_code():
    from agentlab.runtime import protocol
    from agentlab.runtime.agent import Agent
    from agentlab.runtime.backends import ReplayBackend
    from agentlab.tools import ToolBox
    from agentlab.tools.builtin import SandboxedPython
    bomb = protocol.render_action('try', 'PythonInterpreter', {'command': 'while True: pass'})
    ok = protocol.render_action('again', 'PythonInterpreter', {'command': 'print(6*7)'})
    done = protocol.render_finish('done', '42')
    agent = Agent(ReplayBackend([bomb, ok, done]), ToolBox([SandboxedPython(limits=FAST)]))
    trace = agent.run('compute')
    assert [s.kind for s in trace.steps] == ['call', 'call', 'finish']
    assert trace.steps[0].error == 'tool_error' and trace.steps[1].observation == '42'
    assert trace.final_answer == '42'
