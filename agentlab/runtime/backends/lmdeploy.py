"""LMDeploy's pipeline in this process (CUDA GPUs only: LMDeploy has no CPU engine)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from agentlab.errors import AgentlabError
from agentlab.host import cuda_available
from agentlab.runtime.backends.base import Generation, GenerationConfig, Messages, cut_at_stop, row_configs


class LMDeployBackend:
    """LMDeploy's pipeline in this process. Needs lmdeploy and a CUDA GPU (LMDeploy has no CPU engine)."""

    def __init__(self, path: str | Path, tp: int = 1, quant_policy: int = 0):
        try:
            import lmdeploy
        except ImportError:
            raise AgentlabError('lmdeploy is not installed in this environment (it runs on CUDA GPUs only); '
                                'use the transformers backend or an endpoint') from None
        if not cuda_available():
            raise AgentlabError('LMDeploy needs a CUDA GPU and none was found; use the transformers backend')
        self.name = str(path)
        self.pipe = lmdeploy.pipeline(str(path), backend_config=lmdeploy.TurbomindEngineConfig(
            tp=tp, quant_policy=quant_policy))

    def generate(self, batch: Sequence[Messages], config: GenerationConfig,
                 limits: Sequence[int] | None = None) -> list[Generation]:
        import lmdeploy
        # the pipeline takes one GenerationConfig per prompt
        gens = [lmdeploy.GenerationConfig(max_new_tokens=c.max_new_tokens, temperature=c.temperature or 1e-6,
                                          top_p=c.top_p, stop_words=list(c.stop), do_sample=c.temperature > 0)
                for c in row_configs(config, limits, len(batch))]
        start = time.perf_counter()
        outs = self.pipe(list(batch), gen_config=gens)
        seconds = (time.perf_counter() - start) / max(1, len(batch))
        result = []
        for o in outs:
            text, stopped = cut_at_stop(o.text, config.stop)
            result.append(Generation(text, o.input_token_len, o.generate_token_len, seconds,
                                     'stop_word' if stopped else o.finish_reason or ''))
        return result
