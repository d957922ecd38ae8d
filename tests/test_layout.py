"""The layout is the architecture: these tests keep it that way.

* Layers (docs/architecture.md): a module imports only from its own layer or the layers below, lazy imports inside
  functions included. L0 errors/paths/procs/provenance/host, L1 models and engines, L2 tools, L3 runtime, L4 the
  domain packages (datasets_conv, train, serve, evals), L5 the app and the perf benchmarks.
* No import cycles between modules, at import time or lazily.
* No module over the size a newcomer can read in one go.
* Engine scripts run in other environments: they never import agentlab.
* pyproject's explicit package list matches the tree (an editable install hides an omission; a wheel would not).
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Folder on disk -> the dotted name it has under the agentlab namespace (pyproject's package-dir).
ROOTS = {'agentlab': 'agentlab', 'tools': 'agentlab.tools', 'datasets_conv': 'agentlab.datasets_conv',
         'evals': 'agentlab.evals', 'configs': 'agentlab.configs'}
LAYERS = [
    ('L0', ('agentlab.errors', 'agentlab.paths', 'agentlab.procs', 'agentlab.provenance', 'agentlab.host',
            'agentlab.precision', 'agentlab.configs')),
    ('L1', ('agentlab.models', 'agentlab.engines')),
    ('L2', ('agentlab.tools',)),
    ('L3', ('agentlab.runtime',)),
    ('L4', ('agentlab.datasets_conv', 'agentlab.train', 'agentlab.serve', 'agentlab.export', 'agentlab.evals')),
    ('L5', ('agentlab.app', 'agentlab.perf', 'agentlab.cli', 'agentlab.__main__')),
]
MAX_LINES = 600
# Run by path inside the engine environments (or copied there): data, not modules of the package.
SCRIPT_DIRS = ('agentlab/engines/scripts', 'agentlab/engines/patches', 'agentlab/perf/scripts')


def modules() -> dict[str, Path]:
    out = {}
    for folder, dotted in ROOTS.items():
        for path in sorted((REPO / folder).rglob('*.py')):
            rel = path.relative_to(REPO).as_posix()
            if any(rel.startswith(d + '/') for d in SCRIPT_DIRS):
                continue
            parts = list(path.relative_to(REPO / folder).with_suffix('').parts)
            if parts[-1] == '__init__':
                parts = parts[:-1]
            out['.'.join([dotted, *parts])] = path
    return out


def layer_of(module: str) -> int:
    if module == 'agentlab':        # the package root: the lazy public API (Agent, ToolBox), a facade for users
        return len(LAYERS) - 1
    best, level = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + '.')) and len(p) > best:
                best, level = len(p), i
    assert level is not None, f'{module} belongs to no layer: add it to LAYERS and docs/architecture.md'
    return level


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """Every agentlab module ``module`` imports, at the top or inside functions (TYPE_CHECKING blocks skipped)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == '__init__.py' else module.rpartition('.')[0]
    found: set[str] = set()

    def visit(node, typing_only=False):
        if isinstance(node, ast.If) and 'TYPE_CHECKING' in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                candidate = f'{base}.{alias.name}'
                found.add(candidate if candidate in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(tree)
    out = set()
    for name in found:
        while name and name not in known:
            name = name.rpartition('.')[0]
        if name and name != module and name.startswith('agentlab'):
            out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: imports_of(m, p, known) for m, p in mods.items()}


def test_lower_layers_never_import_higher_ones():
    bad = []
    for module, deps in graph().items():
        for dep in deps:
            if dep == 'agentlab':          # the package root's lazy public API is for users, not for modules
                if module != 'agentlab':
                    bad.append(f'{module} imports the package root (import what you need from its module)')
                continue
            if layer_of(dep) > layer_of(module):
                bad.append(f'{module} ({LAYERS[layer_of(module)][0]}) imports {dep} ({LAYERS[layer_of(dep)][0]})')
    assert not bad, '\n'.join(sorted(bad))


def test_no_import_cycles():
    g = graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def strongconnect(v):       # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            # a package's __init__ re-exporting its own submodules is not a cycle a reader trips over
            if len(comp) > 1 and not _package_reexport(comp):
                cycles.append(sorted(comp))
    for v in g:
        if v not in index:
            strongconnect(v)
    assert not cycles, f'import cycles: {cycles}'


def _package_reexport(comp: list[str]) -> bool:
    packages = [m for m in comp if any(o != m and o.startswith(m + '.') for o in comp)]
    return len(packages) == 1 and all(m == packages[0] or m.startswith(packages[0] + '.') for m in comp)


def test_no_module_is_too_long():
    long = {m: len(p.read_text().splitlines()) for m, p in modules().items()}
    too_long = {m: n for m, n in long.items() if n > MAX_LINES}
    assert not too_long, f'split these by job (at most {MAX_LINES} lines): {too_long}'


def test_engine_scripts_never_import_agentlab():
    for d in SCRIPT_DIRS:
        for path in (REPO / d).glob('*.py'):
            text = path.read_text()
            assert not re.search(r'^\s*(from|import) agentlab', text, re.M), f'{path} imports agentlab'


def test_pyproject_lists_every_package():
    data = tomllib.loads((REPO / 'pyproject.toml').read_text())
    listed = set(data['tool']['setuptools']['packages'])
    on_disk = set()
    for folder, dotted in ROOTS.items():
        for init in (REPO / folder).rglob('__init__.py'):
            rel = init.parent.relative_to(REPO / folder).parts
            on_disk.add('.'.join([dotted, *rel]))
    assert on_disk == listed, f'missing from pyproject: {sorted(on_disk - listed)}; stale: {sorted(listed - on_disk)}'
    for folder in SCRIPT_DIRS:
        assert not (REPO / folder / '__init__.py').exists(), f'{folder} is data (run by path), not a package'


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower().replace('`', ''))
    return text.replace(' ', '-')


def test_readme_is_a_front_page_and_every_doc_link_resolves():
    readme = (REPO / 'README.md').read_text()
    assert len(readme.splitlines()) <= 250, 'README.md is the front page: move the manual to docs/'
    pages = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]
    assert len(pages) > 8
    bad = []
    for page in pages:
        text = page.read_text()
        for target in re.findall(r'\]\(([^)\s]+)\)', text):
            if re.match(r'[a-z]+://', target):
                continue
            path, _, anchor = target.partition('#')
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                bad.append(f'{page.name}: {target} (no such file)')
            elif anchor and dest.suffix == '.md':
                anchors = {_anchor(h) for h in re.findall(r'^#+\s+(.*)$', dest.read_text(), re.M)}
                if anchor not in anchors:
                    bad.append(f'{page.name}: {target} (no such heading)')
        assert 'shared/' not in text, f'{page.name} cites shared/, which a clone does not have'
    assert not bad, '\n'.join(bad)


def test_code_cites_no_file_outside_the_repository():
    """Docstrings once pointed at shared/DESIGN.md, which a clone of the repository does not have."""
    for module, path in modules().items():
        assert 'shared/' not in path.read_text(), f'{path} cites shared/ (its content belongs in docs/)'


def test_no_unused_imports_or_undefined_names():
    """pyflakes' rules (ruff F): a module moved to another package leaves stale imports behind otherwise."""
    import subprocess
    import sys
    ruff = Path(sys.executable).parent / 'ruff'
    res = subprocess.run([str(ruff), 'check', '--select', 'F,E9', '--output-format', 'concise', '--no-cache',
                          *ROOTS, 'tests'], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
