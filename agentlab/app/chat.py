"""`agentlab chat`: a terminal ReAct chat printing every step as it happens."""

from __future__ import annotations

import json

from rich.console import Console

from agentlab.runtime.agent import Agent
from agentlab.runtime.backends import GenerationConfig

STYLE = {'call': 'cyan', 'finish': 'green', 'format_error': 'red', 'args_error': 'red', 'give_up': 'red'}


def print_step(console: Console, step) -> None:
    if step.thought:
        console.print(f'[dim]Thought:[/] {step.thought}', highlight=False)
    if step.kind == 'finish':
        console.print(f'[bold green]Final Answer:[/] {step.answer}', highlight=False)
    elif step.kind == 'give_up':
        console.print(f'[red]{step.answer}[/]', highlight=False)
    else:
        if step.tool:
            args = json.dumps(step.arguments, ensure_ascii=False) if step.arguments is not None else '(unparsed)'
            console.print(f'[cyan]Action:[/] {step.tool} {args}', highlight=False)
        colour = 'red' if step.error else 'yellow'
        label = f'Error ({step.error})' if step.error else 'Observation'
        console.print(f'[{colour}]{label}:[/] {step.observation}', highlight=False)
        if step.kind == 'format_error':
            console.print(f'[dim]model wrote: {step.raw_output[:300]!r}[/]', highlight=False)
    if step.recoveries:
        console.print(f'[dim](tolerant parser recovered: {", ".join(step.recoveries)})[/]')


def run_chat(model: str, tools: str | None, max_turns: int, temperature: float, max_new_tokens: int,
             parse_mode: str, lang: str) -> None:
    console = Console()
    with console.status(f'loading {model}...'):
        agent = Agent.from_spec(model, tools, max_turns=max_turns, parse_mode=parse_mode, lang=lang,
                                generation=GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature))
    console.print(f'[bold]{agent.backend.name}[/] with tools: {", ".join(agent.tools.names())}. '
                  'Empty line or Ctrl-D to quit.')
    while True:
        try:
            query = console.input('[bold]you>[/] ').strip()
        except EOFError:
            break
        if not query:
            break
        for step in agent.stream(query):
            print_step(console, step)
