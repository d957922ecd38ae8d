"""`agentlab doctor`: one table of what is installed, what is broken, and what to run about it."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from rich.console import Console
from rich.table import Table

from agentlab import paths
from agentlab.engines import envs
from agentlab.host import cuda_available

CORE_DISTS = ('agentlab', 'torch', 'transformers', 'lagent', 'gradio', 'peft', 'datasets', 'openai', 'bfcl-eval')


def _core_row() -> tuple[str, str, str]:
    versions, missing = [], []
    for dist in CORE_DISTS:
        try:
            versions.append(f'{dist} {metadata.version(dist)}')
        except metadata.PackageNotFoundError:
            missing.append(dist)
    if missing:
        return 'broken', f'missing: {", ".join(missing)} (run: make setup)', ', '.join(versions)
    return 'ok', '', ', '.join(versions)


def gather(check_imports: bool = True) -> list[dict]:
    """Rows of (component, status, where, detail); status is ok | missing | broken | unsupported | info."""
    rows = []
    status, detail, versions = _core_row()
    rows.append(dict(component='core', status=status, where=sys.prefix, detail=detail or versions, required=True))
    for eng in envs.ENGINES.values():
        st = envs.state(eng, check_imports=check_imports)
        detail = st.detail or ', '.join(f'{k} {v}' for k, v in st.versions.items())
        # A missing engine is built on first use; a broken one is a failure the user must hear about.
        rows.append(dict(component=f'env:{eng.name}', status=st.status, where=str(st.path), detail=detail,
                         required=st.status == 'broken'))
    from agentlab.models.pull import model_state
    from agentlab.models import REGISTRY
    for name in REGISTRY:
        status, where, detail = model_state(name)
        rows.append(dict(component=f'model:{name}', status=status, where=where, detail=detail,
                         required=status == 'broken'))
    gpu = cuda_available()
    rows.append(dict(component='gpu', status='info', where='',
                     detail='CUDA GPU present' if gpu else 'no CUDA GPU: LoRA on CPU, serve with transformers',
                     required=False))
    rows.append(dict(component='home', status='info', where=str(paths.home()),
                     detail=f'python {platform.python_version()} ({sys.executable})', required=False))
    try:
        from agentlab.tools.sandbox import isolation_report
    except ImportError:
        pass
    else:
        for name, (ok, detail) in isolation_report().items():
            rows.append(dict(component=f'sandbox:{name}', status='ok' if ok else 'unsupported', where='',
                             detail=detail, required=False))
    return rows


def run_doctor(check_imports: bool = True) -> int:
    rows = gather(check_imports=check_imports)
    table = Table(title='agentlab doctor', show_lines=False)
    for col in ('component', 'status', 'where', 'detail'):
        table.add_column(col, overflow='fold')
    colours = {'ok': 'green', 'missing': 'yellow', 'broken': 'bold red', 'unsupported': 'dim', 'info': 'cyan'}
    for r in rows:
        table.add_row(r['component'], f'[{colours.get(r["status"], "")}]{r["status"]}[/]', r['where'], r['detail'])
    Console(width=160).print(table)
    broken = [r['component'] for r in rows if r['required'] and r['status'] == 'broken']
    if broken:
        print(f'broken: {", ".join(broken)}', file=sys.stderr)
        return 1
    return 0
