"""An Ollama Modelfile for an exported GGUF: the chat template in Ollama's Go-template syntax and the stop words of
agentlab's ReAct protocol, so `ollama create NAME -f MODEL.Modelfile` runs the model as agentlab does (greedy,
stopping before it would write a tool's result itself)."""

from __future__ import annotations

from agentlab.runtime import protocol

# ChatML, as SmolLM2's and Qwen's Jinja templates render it. Ollama puts the SYSTEM default into .Messages when a
# request has no system message, so the template renders messages only (a .System block would repeat it).
CHATML = '''{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
'''


def _default_system(jinja: str) -> str | None:
    """The system prompt a ChatML Jinja template injects when the conversation has none (SmolLM2 does)."""
    marker = "'<|im_start|>system\n"
    i = jinja.find(marker)
    if i == -1:
        return None
    j = jinja.find('<|im_end|>', i)
    return jinja[i + len(marker):j] if j != -1 else None


def _quote(text: str) -> str:
    return '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '"'


def modelfile_text(gguf_name: str, jinja_template: str, eos_token: str | None) -> str:
    lines = [f'# Ollama: ollama create NAME -f {gguf_name.rsplit(".", 1)[0]}.Modelfile   (written by agentlab export)',
             f'FROM ./{gguf_name}']
    if '<|im_start|>' in jinja_template:
        lines.append(f'TEMPLATE """{CHATML}"""')
        system = _default_system(jinja_template)
        if system:
            lines.append(f'SYSTEM """{system}"""')
    else:
        lines.append('# not a ChatML template: Ollama reads the chat template stored in the GGUF')
    stops = [eos_token] if eos_token else []
    # Ollama's parser takes one-line values: "Response:" alone cuts where "\nResponse:" would (one newline earlier)
    stops += [s for s in protocol.STOP_WORDS if '\n' not in s and s not in stops]
    lines += [f'PARAMETER stop {_quote(s)}' for s in stops]
    lines += ['PARAMETER temperature 0', 'PARAMETER num_ctx 4096']
    return '\n'.join(lines) + '\n'
