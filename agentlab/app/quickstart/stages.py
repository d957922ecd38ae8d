"""Content-addressed stages of a quickstart run, and the stage that runs as a child process beside the next ones.

A stage's key is a hash of its settings and of the keys of the stages it reads, recorded in OUT/stages.json when
the stage finishes; a stage whose key is unchanged is skipped. A stage folder made from other inputs is never mixed
with new work and never silently lost: :func:`resumable` moves it aside (OUT/replaced/) and says so.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.markup import escape

from agentlab import procs
from agentlab.errors import AgentlabError
from agentlab.provenance import write_json_atomic

KEY_FILE = 'quickstart-key'


class Stages:
    """OUT/stages.json: name -> {key, seconds, finished}. A stage is done when its recorded key equals its key."""

    def __init__(self, out: Path, console: Console):
        self.path = out / 'stages.json'
        self.console = console
        self.done = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.timings: dict[str, float] = {}

    def up_to_date(self, name: str, key: str) -> bool:
        self.console.rule(name)
        if self.done.get(name, {}).get('key') == key:
            self.console.print(f'[green]up to date[/] (finished {self.done[name]["finished"]}; key {key})')
            self.timings[name] = 0.0
            return True
        return False

    def record(self, name: str, key: str, seconds: float) -> str:
        self.timings[name] = round(seconds, 1)
        self.done[name] = {'key': key, 'seconds': self.timings[name], 'finished': time.strftime('%Y-%m-%d %H:%M:%S')}
        write_json_atomic(self.path, self.done)   # recorded only once the stage really finished
        return key

    def run(self, name: str, key: str, fn: Callable[[], object]) -> str:
        if self.up_to_date(name, key):
            return key
        start = time.perf_counter()
        fn()
        return self.record(name, key, time.perf_counter() - start)

    def start(self, name: str, key: str, argv: list[str], log: Path, env: dict[str, str],
              progress: Callable[[], str] = lambda: '', before: Callable[[], object] = lambda: None
              ) -> 'BackgroundStage':
        """Run an agentlab command as a child process while the next stages run; ``wait()`` records it.

        ``before`` runs first, only when the stage is not up to date."""
        if self.up_to_date(name, key):
            return BackgroundStage(self, name, key, None, log, progress)
        before()
        log.parent.mkdir(parents=True, exist_ok=True)
        self.console.print(f'running in the background, beside the next stage; its log: {escape(str(log))}',
                           highlight=False, soft_wrap=True)
        with open(log, 'a', encoding='utf-8') as fh:
            fh.write(f'$ {shlex.join(argv)}\n')
            fh.flush()
            # A session of its own: Ctrl-C reaches this process, which then stops the child (stop()) the way
            # Ctrl-C would have, so the child keeps what it finished and a re-run resumes it.
            proc = procs.start(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        return BackgroundStage(self, name, key, proc, log, progress)


@dataclass
class BackgroundStage:
    stages: Stages
    name: str
    key: str
    proc: subprocess.Popen | None       # None: the stage was already up to date
    log: Path
    progress: Callable[[], str]
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    watcher: threading.Thread | None = None

    def __post_init__(self) -> None:
        if self.proc is not None:       # the stage's own time, even when it ends long before wait() is called
            self.watcher = threading.Thread(target=self._watch, args=(self.proc,), daemon=True)
            self.watcher.start()

    def _watch(self, proc: subprocess.Popen) -> None:
        proc.wait()
        self.ended = time.perf_counter()

    def wait(self) -> str:
        if self.proc is None:
            return self.key
        if self.watcher.is_alive():
            with self.stages.console.status(f'waiting for {self.name}') as status:
                while self.watcher.is_alive():
                    status.update(f'waiting for {self.name} {self.progress()}')
                    self.watcher.join(2)
        code = self.proc.returncode
        self.proc = None
        if code != 0:
            tail = self.log.read_text(errors='replace').strip().splitlines()[-5:]
            raise AgentlabError(f'{self.name} failed (exit {code}); the end of {self.log}:\n' + '\n'.join(tail))
        seconds = self.ended - self.started
        self.stages.console.print(f'[green]finished[/] {self.name} ({seconds:.0f} s)')
        return self.stages.record(self.name, self.key, seconds)

    def stop(self) -> None:
        """Stop the child if it still runs (another stage failed or was interrupted); it resumes on a re-run."""
        if self.proc is not None and self.proc.poll() is None:
            procs.stop_group(self.proc)


def resumable(folder: Path, key: str, say: Callable[[str], None] = print) -> bool:
    """Whether FOLDER's (partial) work was made from the inputs KEY stands for, so a stage may resume it.

    If not, the folder is moved aside to OUT/replaced/NAME-OLDKEY (with a message saying where) and a fresh one is
    marked with KEY: a retrained model writes to the same paths, and its eval must not resume the cases its
    previous weights wrote; nor may an hour of earlier work vanish because another plan ran in the same folder."""
    marker = folder / KEY_FILE
    if marker.is_file() and marker.read_text().strip() == key:
        return True
    if folder.exists() and any(folder.iterdir()):
        old = marker.read_text().strip() if marker.is_file() else 'unkeyed'
        aside = folder.parent / 'replaced' / f'{folder.name}-{old}'
        if aside.exists():
            aside = aside.with_name(f'{aside.name}-{time.strftime("%Y%m%d-%H%M%S")}')
        aside.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(folder), str(aside))
        say(f'{folder.name}/ was made from other inputs (another plan or model); moved it to {aside} '
            '(delete it when no longer needed)')
    elif folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    marker.write_text(key)
    return False
