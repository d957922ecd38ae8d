"""Run untrusted, model-written Python in a separate, contained process.

These machines run everything as root, and root ignores process-count limits and file permissions, so resource
limits alone contain nothing. The child therefore:

1. gets resource limits (CPU seconds, address space, processes, file size, open files) before it starts;
2. enters new namespaces with util-linux `unshare` where the kernel allows it: network (no interfaces, not even the
   host's loopback), PID (host processes invisible; killing its init kills everything it spawned), mount (private
   tmpfs over every world-writable folder, so writes land in a throwaway filesystem), IPC and UTS;
3. drops to an unprivileged user (nobody, via `setpriv`) with no capabilities and no_new_privs, so permissions and
   the process limit apply;
4. runs with a scrubbed environment (nothing of the parent's variables) in a private working folder;
5. is killed as a whole process group at a wall-clock deadline; output is capped while it is read.

What works depends on the OS and on who runs agentlab: `isolation_report()` says which protections are active
(shown by `agentlab doctor`), and `run_python` uses every one that is available.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from functools import lru_cache

from agentlab import procs

NOBODY_UID = 65534
NOBODY_GID = 65534
# Folders any user may write to on a Debian system; each gets a private tmpfs inside the mount namespace.
WRITABLE_DIRS = ('/tmp', '/var/tmp', '/run/lock', '/dev/shm')
SAFE_PATH = '/usr/local/bin:/usr/bin:/bin'


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 15.0
    cpu_seconds: int = 10
    memory_bytes: int = 512 * 2**20
    processes: int = 32
    file_bytes: int = 16 * 2**20
    open_files: int = 64
    output_bytes: int = 64 * 1024


@dataclass
class SandboxResult:
    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool
    truncated: bool
    seconds: float
    isolation: tuple[str, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def _sandbox_python() -> str | None:
    """An interpreter the unprivileged user can execute (a root-owned pyenv under /root is not one)."""
    for candidate in ('/usr/bin/python3', '/usr/local/bin/python3'):
        if os.path.exists(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _try(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@lru_cache(maxsize=1)
def _capabilities() -> dict[str, bool]:
    is_root = os.geteuid() == 0
    unshare, setpriv = shutil.which('unshare'), shutil.which('setpriv')
    py = _sandbox_python()
    caps = {'root': is_root, 'unshare': bool(unshare), 'setpriv': bool(setpriv), 'python': bool(py)}
    if unshare and is_root:
        caps['namespaces'] = _try([unshare, '--net', '--pid', '--fork', '--mount', '--ipc', '--uts', 'true'])
        caps['userns'] = False
    elif unshare:
        caps['namespaces'] = _try([unshare, '--user', '--map-root-user', '--net', '--pid', '--fork', '--mount',
                                   'true'])
        caps['userns'] = caps['namespaces']
    else:
        caps['namespaces'] = caps['userns'] = False
    caps['drop_user'] = bool(is_root and setpriv and py)
    return caps


def isolation_report() -> dict[str, tuple[bool, str]]:
    """Which protections `run_python` applies on this machine, for `agentlab doctor` and the tests."""
    c = _capabilities()
    return {
        'limits': (True, 'CPU time, memory, processes, file size and open files limited; wall-clock kill of the '
                         'whole process group; output capped'),
        'user': (c['drop_user'], 'runs as nobody (uid 65534), no capabilities, no_new_privs' if c['drop_user'] else
                 'runs as the calling user (dropping privileges needs root and setpriv)'),
        'network': (c['namespaces'], 'new network namespace: no interfaces, host loopback unreachable'
                    if c['namespaces'] else 'NOT isolated: unshare(1) cannot create namespaces here'),
        'filesystem': (c['namespaces'] and c['drop_user'],
                       'private tmpfs over /tmp, /var/tmp, /run/lock, /dev/shm; other writes denied by permissions'
                       if c['namespaces'] and c['drop_user'] else
                       'partial: private tmpfs only where namespaces work; files the calling user owns are writable'),
        'processes': (c['namespaces'], 'new PID namespace: host processes invisible, all children killed with it'
                      if c['namespaces'] else 'process-group kill only'),
        'environment': (True, 'scrubbed: no variables of the parent process'),
    }


def _preexec(limits: Limits):
    def apply() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # Enforced once the child has dropped to an unprivileged uid (root ignores it).
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    return apply


# Runs as root inside the new namespaces, then execs the code as nobody. $1 = python, stdin = the program.
_INNER = r'''
set -e
for d in {dirs}; do
  if [ -d "$d" ]; then mount -t tmpfs -o size=64m,mode=1777,nosuid,nodev tmpfs "$d"; fi
done
mkdir -m 700 /tmp/work
cat > /tmp/work/main.py
chown -R {uid}:{gid} /tmp/work
cd /tmp/work
set +e
setpriv --reuid={uid} --regid={gid} --clear-groups --no-new-privs --inh-caps=-all \
  env -i PATH={path} HOME=/tmp/work LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONIOENCODING=utf-8 \
  "$1" -I -S main.py
rc=$?
if [ $rc -gt 128 ]; then echo "{marker} $((rc - 128))" >&2; fi
exit $rc
'''
_SIGNAL_MARKER = 'AGENTLAB_SANDBOX_SIGNAL'
_SIGNAL_TEXT = {signal.SIGXCPU: 'CPU time limit exceeded', signal.SIGKILL: 'killed (a resource limit was hit)',
                signal.SIGXFSZ: 'file size limit exceeded', signal.SIGSEGV: 'segmentation fault'}


def _command(workdir: str) -> tuple[list[str], tuple[str, ...], bool]:
    """(argv, protections used, program goes to stdin)."""
    c = _capabilities()
    py = _sandbox_python() or 'python3'
    if c['namespaces'] and c['drop_user']:
        inner = _INNER.format(dirs=' '.join(WRITABLE_DIRS), uid=NOBODY_UID, gid=NOBODY_GID, path=SAFE_PATH,
                              marker=_SIGNAL_MARKER)
        argv = ['unshare', '--net', '--pid', '--fork', '--kill-child', '--mount', '--mount-proc', '--ipc', '--uts',
                '--propagation', 'private', 'sh', '-c', inner, 'sandbox', py]
        return argv, ('limits', 'user', 'network', 'filesystem', 'processes', 'environment'), True
    base = ['env', '-i', f'PATH={SAFE_PATH}', f'HOME={workdir}', 'LANG=C.UTF-8', 'PYTHONDONTWRITEBYTECODE=1',
            py, '-I', '-S', os.path.join(workdir, 'main.py')]
    if c['userns']:
        return (['unshare', '--user', '--map-root-user', '--net', '--pid', '--fork', '--kill-child', '--mount-proc']
                + base, ('limits', 'network', 'processes', 'environment'), False)
    return base, ('limits', 'environment'), False


def _reader(stream, cap: int, sink: list, flags: dict) -> None:
    size = 0
    while True:
        chunk = stream.read(8192)
        if not chunk:
            break
        if size < cap:
            sink.append(chunk[:cap - size])
        size += len(chunk)
        if size > cap:
            flags['truncated'] = True   # keep draining so the child never blocks on a full pipe


def run_python(code: str, limits: Limits = Limits()) -> SandboxResult:
    """Run ``code`` as a program in the sandbox; never raises for anything the code does."""
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix='agentlab-sandbox-')
    try:
        argv, used, via_stdin = _command(workdir)
        if not via_stdin:
            with open(os.path.join(workdir, 'main.py'), 'w') as fh:
                fh.write(code)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=workdir, preexec_fn=_preexec(limits), close_fds=True,
                                env={'PATH': SAFE_PATH, 'LANG': 'C.UTF-8'})
        out: list[bytes] = []
        err: list[bytes] = []
        flags = {'truncated': False}
        threads = [threading.Thread(target=_reader, args=(proc.stdout, limits.output_bytes, out, flags), daemon=True),
                   threading.Thread(target=_reader, args=(proc.stderr, limits.output_bytes, err, flags), daemon=True)]
        for t in threads:
            t.start()
        try:
            if via_stdin:
                proc.stdin.write(code.encode('utf-8', 'replace'))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        timed_out = False
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            procs.stop_group(proc, procs.AT_ONCE)
        for t in threads:
            t.join(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            stream.close()
        code_ = proc.returncode
        stderr = b''.join(err).decode('utf-8', 'replace')
        lines = []
        for line in stderr.splitlines():
            if line.startswith(_SIGNAL_MARKER):
                code_ = -int(line.split()[1])
            elif not line.startswith('unshare: '):   # unshare's own noise when its child dies of a signal
                lines.append(line)
        stderr = '\n'.join(lines)
        if code_ is not None and code_ < 0:
            stderr += f'\n[sandbox] {_SIGNAL_TEXT.get(-code_, f"killed by signal {-code_}")}'
        if timed_out:
            stderr += f'\n[sandbox] killed after {limits.wall_seconds:.0f}s wall-clock limit'
        return SandboxResult(b''.join(out).decode('utf-8', 'replace'), stderr.strip('\n'), code_, timed_out,
                             flags['truncated'], round(time.monotonic() - started, 3), used)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
