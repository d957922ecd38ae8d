"""`agentlab convert agent-flan` against the tutorial's in-memory route and a raw parse-and-dump of the same file."""

from __future__ import annotations

import json
import time

from agentlab.perf import BenchResult


AGENT_FLAN_ROWS = 34_442          # the size of Agent-FLAN (7 splits)

_WORDS = ('the tool returns a list of results for the query with their ids names scores and short descriptions '
          'weather city temperature paper arxiv title authors published summary api endpoint status code error '
          'request parameter value string number hotel flight price date time location user account order item '
          '北京 上海 天气 查询 结果 工具 调用 参数').split()


def agent_flan_corpus(path, rows: int = AGENT_FLAN_ROWS, seed: int = 0) -> dict:
    """Write an Agent-FLAN-shaped JSONL corpus and return its shape.

    Row mix and sizes follow the dataset's splits: ReAct trajectories (a ToolBench-style system prompt with 2-6 API
    descriptions, 1-5 Thought/Action/Action Input steps, tool results as user turns of 50-1,500 characters, 2% of
    them very long, up to 20,000), tflan format-following Q&A (3-10 pairs, some masked), and negative rows answered
    without tools. ``loss`` is a bool on most turns and missing on some, as in the real data."""
    import random
    from pathlib import Path
    from agentlab.runtime import protocol

    rng = random.Random(seed)
    pool = ' '.join(rng.choice(_WORDS) for _ in range(400_000))     # text is cut from this pool: fast, varied

    def text(lo: int, hi: int) -> str:
        n = rng.randint(lo, hi)
        start = rng.randrange(0, len(pool) - n)
        return pool[start:start + n]

    def tool(i: int) -> dict:
        props = {f'arg_{j}': {'type': rng.choice(['string', 'integer', 'boolean']), 'description': text(20, 120)}
                 for j in range(rng.randint(1, 5))}
        return {'name': f'api_{i}_{rng.randrange(10_000)}', 'description': text(80, 600),
                'parameters': {'type': 'object', 'properties': props, 'required': list(props)[:1]}}

    def turn(role: str, content: str, loss) -> dict:
        t = {'role': role, 'content': content}
        if loss is not None and rng.random() > 0.1:        # the flag is missing on ~10% of turns
            t['loss'] = loss
        return t

    counts = {'react': 0, 'tflan': 0, 'negative': 0}
    total_bytes = 0
    with open(Path(path), 'w', encoding='utf-8') as fh:
        for i in range(rows):
            kind = rng.choices(['react', 'tflan', 'negative'], [0.4, 0.5, 0.1])[0]
            counts[kind] += 1
            if kind == 'tflan':
                conv = []
                for _ in range(rng.randint(3, 10)):
                    conv += [turn('user', text(40, 400), False), turn('assistant', text(20, 300), rng.random() > 0.2)]
            else:
                tools = [tool(j) for j in range(rng.randint(2, 6))]
                conv = [{'role': 'system', 'content': protocol.render_system(tools)},
                        turn('user', text(30, 300), False)]
                for _ in range(rng.randint(1, 5) if kind == 'react' else 0):
                    t = rng.choice(tools)
                    args = {a: text(3, 30) for a in t['parameters']['properties']}
                    conv.append(turn('assistant', protocol.render_action(text(20, 200), t['name'], args), True))
                    n = 20_000 if rng.random() < 0.02 else 1_500
                    conv.append(turn('user', protocol.render_response(text(50, n)), False))
                conv.append(turn('assistant', protocol.render_finish(text(20, 200), text(20, 400)), True))
            line = json.dumps({'id': f'{kind}_{i}', 'conversation': conv}, ensure_ascii=False) + '\n'
            total_bytes += len(line.encode('utf-8'))
            fh.write(line)
    return {'rows': rows, 'bytes': total_bytes, 'mix': counts}


# Each approach runs in its own fresh interpreter, as a user would run it. The child reports its peak RSS (VmHWM)
# and its wall time from start to exit; the child also reports the time of the work itself (after start-up and
# imports: `import datasets` alone takes seconds). The raw parse-and-dump uses the converter's JSON library (orjson)
# and read buffer, so the ratio to it measures what conversion adds; the standard library's json runs once for
# reference.
_RAW_DUMP = """
import json, sys, time
src, dst, lib = sys.argv[1:4]
if lib == 'orjson':
    import orjson
    loads, dumps = orjson.loads, orjson.dumps
else:
    loads, dumps = json.loads, lambda obj: json.dumps(obj, ensure_ascii=False).encode('utf-8')
t = time.perf_counter(); n = 0
with open(src, 'rb', buffering=1 << 20) as fin, open(dst, 'wb') as fout:
    for line in fin:
        if line.strip():
            fout.write(dumps(loads(line)) + b'\\n'); n += 1
print(json.dumps({'rows': n, 'seconds': time.perf_counter() - t}))
"""

_TUTORIAL = """
import json, sys, time
import datasets
src, dst = sys.argv[1:3]
datasets.disable_progress_bars()
t = time.perf_counter()
rows = []
with open(src, encoding='utf-8') as fh:
    for line in fh:
        if line.strip():
            row = json.loads(line)
            row['messages'] = row.pop('conversation')
            rows.append(row)
ds = datasets.Dataset.from_list(rows)
ds.save_to_disk(dst)
print(json.dumps({'rows': len(ds), 'seconds': time.perf_counter() - t}))
"""

# The converter as a library call in a fresh interpreter. The `agentlab` command adds its own start-up on top
# (typer builds the CLI through pydantic: about half a second), the same for any amount of data.
_CONVERTER = """
import json, sys, time
from pathlib import Path
from agentlab.datasets_conv.convert import run_convert
src, dst, fmt = sys.argv[1:4]
t = time.perf_counter()
stats = run_convert('agent-flan', [src], Path(dst), out_format=fmt, quiet=True)
print(json.dumps({'rows': stats['rows_read'], 'converted': stats['converted'], 'seconds': time.perf_counter() - t}))
"""


# The child's own high-water mark, read by the child. Not the rusage maxrss of wait4: Linux carries the forking
# parent's peak RSS into a child's maxrss across exec, so after `agentlab perf` has loaded a model every child would
# report the parent's ~1 GiB. VmHWM belongs to the child's own address space.
_PEAK_RSS_EPILOGUE = '''
import sys as _sys
_hwm = [line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]
print('AGENTLAB_VMHWM_KIB', _hwm, file=_sys.stderr)
'''


def _measure(script: str, *args: str) -> dict:
    """Run ``script`` in a fresh interpreter; return its report: rows, work seconds, wall seconds, peak RSS (MiB),
    rows/s over the whole run and over the work alone."""
    import os
    import subprocess
    import sys
    import tempfile
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, '-c', script + _PEAK_RSS_EPILOGUE, *args], stdout=subprocess.PIPE,
                                stderr=err, env=dict(os.environ, OMP_NUM_THREADS='1'))
        out = proc.stdout.read()
        proc.stdout.close()
        proc.wait()
        wall = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode(errors='replace')
        if proc.returncode != 0:
            raise RuntimeError(f'benchmark child failed ({proc.returncode}): {stderr[-500:]}')
    report = json.loads(out.decode().strip().splitlines()[-1])
    hwm_kib = int(stderr.rsplit('AGENTLAB_VMHWM_KIB ', 1)[1].split()[0])
    report['wall_s'] = round(wall, 2)
    report['seconds'] = round(report['seconds'], 2)
    report['peak_rss_mib'] = round(hwm_kib / 1024, 1)
    report['rows_per_s'] = round(report['rows'] / wall, 1)
    report['work_rows_per_s'] = round(report['rows'] / report['seconds'], 1)
    return report


def convert_throughput(rows: int = AGENT_FLAN_ROWS, seed: int = 0, repeats: int = 3,
                       with_hf: bool = True) -> BenchResult:
    """`agentlab convert agent-flan` against the tutorial route (every line in memory, rename conversation to
    messages, Dataset.from_list, save_to_disk) and a raw parse-and-dump of the same file, side by side.

    Each approach runs ``repeats`` times, interleaved, and its fastest run counts (a shared machine only ever makes
    a run slower). Targets, on rows/s over the whole run: >= 3x the tutorial's, >= 1/2 of the raw parse-and-dump's;
    and <= 1/5 of the tutorial's peak RSS."""
    import shutil
    import tempfile
    from pathlib import Path

    work = Path(tempfile.mkdtemp(prefix='agentlab-perf-convert-'))

    def run(script: str, *args: str) -> dict:
        out = work / 'out'
        try:
            return _measure(script, str(corpus), str(out), *args)
        finally:
            if out.is_dir():
                shutil.rmtree(out)
            else:
                out.unlink(missing_ok=True)

    try:
        corpus = work / 'agent_flan.jsonl'
        shape = agent_flan_corpus(corpus, rows=rows, seed=seed)
        runs: dict[str, list[dict]] = {'converter': [], 'tutorial': [], 'raw_parse_dump': []}
        for _ in range(repeats):
            runs['raw_parse_dump'].append(run(_RAW_DUMP, 'orjson'))
            runs['tutorial'].append(run(_TUTORIAL))
            runs['converter'].append(run(_CONVERTER, 'jsonl'))
        best = {name: min(reports, key=lambda r: r['wall_s']) for name, reports in runs.items()}
        best['raw_parse_dump_stdlib_json'] = run(_RAW_DUMP, 'json')
        if with_hf:
            best['converter_format_hf'] = run(_CONVERTER, 'hf')
    finally:
        shutil.rmtree(work, ignore_errors=True)
    conv, tutorial, raw = best['converter'], best['tutorial'], best['raw_parse_dump']
    speed = conv['rows_per_s'] / tutorial['rows_per_s']
    memory = conv['peak_rss_mib'] / tutorial['peak_rss_mib']
    vs_raw = conv['rows_per_s'] / raw['rows_per_s']
    passed = speed >= 3 and memory <= 0.2 and vs_raw >= 0.5
    detail = {'corpus': shape, 'repeats': repeats, **best,
              'speed_vs_tutorial': round(speed, 2), 'peak_rss_vs_tutorial': round(memory, 3),
              'speed_vs_raw': round(vs_raw, 2),
              'work_only_speed_vs_tutorial': round(conv['work_rows_per_s'] / tutorial['work_rows_per_s'], 2),
              'work_only_speed_vs_raw': round(conv['work_rows_per_s'] / raw['work_rows_per_s'], 2)}
    return BenchResult('convert agent-flan', 'rows/s vs tutorial', conv['rows_per_s'], tutorial['rows_per_s'],
                       round(speed, 2), '>= 3x rows/s, <= 0.2x peak RSS, >= 0.5x raw rows/s', passed, detail)


def convert_table(result: BenchResult) -> str:
    """The README's table for the convert benchmark."""
    d = result.detail
    lines = ['| approach | rows/s (whole run) | rows/s (work only) | peak RSS (MiB) |', '|---|---|---|---|']
    names = {'converter': 'converter (jsonl)', 'converter_format_hf': 'converter with `--format hf`',
             'tutorial': 'tutorial: in memory, `Dataset.from_list`, `save_to_disk`',
             'raw_parse_dump': 'raw parse-and-dump (orjson)', 'raw_parse_dump_stdlib_json': 'raw parse-and-dump (json)'}
    for key, label in names.items():
        if d.get(key):
            r = d[key]
            lines.append(f'| {label} | {r["rows_per_s"]:,.0f} | {r["work_rows_per_s"]:,.0f} '
                         f'| {r["peak_rss_mib"]:,.0f} |')
    return '\n'.join(lines)
