"""LMDeploy (the serve environment, CUDA GPUs only), as agentlab drives it: `lmdeploy serve api_server` and
`lmdeploy serve proxy` command lines, AWQ model detection, and the AWQ quantisation command with local calibration
text (LMDeploy's default calibration set is a hub download)."""

from __future__ import annotations

import json
from pathlib import Path

from agentlab.engines.scripts_dir import script
from agentlab.errors import AgentlabError


def lmdeploy_command(model_path: str | Path, model_name: str, host: str, port: int, *, tp: int = 1,
                     quant_policy: int = 0, model_format: str | None = None, backend: str = 'turbomind',
                     api_key: str | None = None, session_len: int | None = None,
                     cache_max_entry_count: float | None = None, tool_call_parser: str | None = None,
                     proxy_url: str | None = None, log_level: str = 'WARNING',
                     python: str | Path | None = None) -> list[str]:
    """The `lmdeploy serve api_server` command line, run with the serve environment's interpreter."""
    if quant_policy not in (0, 4, 8):
        raise AgentlabError(f'--quant-policy must be 0 (off), 4 or 8 (KV-cache bits), not {quant_policy}')
    if tp < 1 or tp & (tp - 1):
        raise AgentlabError(f'--tp must be a power of two (GPUs for tensor parallelism), not {tp}')
    if backend not in ('turbomind', 'pytorch'):
        raise AgentlabError(f'--backend must be turbomind or pytorch, not {backend!r}')
    if model_format not in (None, 'hf', 'awq', 'gptq'):
        raise AgentlabError(f'--model-format must be hf, awq or gptq, not {model_format!r}')
    if python is None:
        from agentlab.engines import envs
        python = envs.env_python(envs.engine('serve'))
    cmd = [str(python), '-m', 'lmdeploy', 'serve', 'api_server', str(model_path),
           '--model-name', model_name, '--server-name', host, '--server-port', str(port),
           '--backend', backend, '--tp', str(tp), '--quant-policy', str(quant_policy), '--log-level', log_level]
    if model_format:
        cmd += ['--model-format', model_format]
    if session_len:
        cmd += ['--session-len', str(session_len)]
    if cache_max_entry_count is not None:
        cmd += ['--cache-max-entry-count', str(cache_max_entry_count)]
    if tool_call_parser:
        cmd += ['--tool-call-parser', tool_call_parser]
    if proxy_url:
        cmd += ['--proxy-url', proxy_url]
    if api_key:
        cmd += ['--api-keys', api_key]
    return cmd


def lmdeploy_proxy_command(host: str = '127.0.0.1', port: int = 8000, strategy: str = 'min_expected_latency',
                           python: str | Path | None = None) -> list[str]:
    """LMDeploy's own proxy (`lmdeploy serve proxy`): api_servers started with ``--proxy-url`` register with it
    and it spreads requests over them."""
    if python is None:
        from agentlab.engines import envs
        python = envs.env_python(envs.engine('serve'))
    return [str(python), '-m', 'lmdeploy', 'serve', 'proxy', '--server-name', host, '--server-port', str(port),
            '--strategy', strategy]


def detect_model_format(model_path: Path) -> str | None:
    """'awq' for a folder written by LMDeploy's AWQ (agentlab quantize), else None (LMDeploy decides)."""
    try:
        config = json.loads((Path(model_path) / 'config.json').read_text())
    except (OSError, json.JSONDecodeError):
        return None
    quant = config.get('quantization_config') or {}
    method = str(quant.get('quant_method', '')).lower()
    return method if method in ('awq', 'gptq') else None


def quantize_command(model_path: str | Path, out: str | Path, calib_file: str | Path, *, w_bits: int = 4,
                     w_group_size: int = 128, calib_samples: int = 128, calib_seqlen: int = 2048,
                     batch_size: int = 1, search_scale: bool = False,
                     python: str | Path | None = None) -> list[str]:
    """The serve-environment command that runs LMDeploy's AWQ with agentlab's local calibration text."""
    if python is None:
        from agentlab.engines import envs
        python = envs.env_python(envs.engine('serve'))
    cmd = [str(python), str(script('awq_local_calib')), '--model', str(model_path), '--out', str(out),
           '--calib-text', str(calib_file), '--w-bits', str(w_bits), '--w-group-size', str(w_group_size),
           '--calib-samples', str(calib_samples), '--calib-seqlen', str(calib_seqlen), '--batch-size',
           str(batch_size)]
    if search_scale:
        cmd.append('--search-scale')
    return cmd
