"""Engines: isolated, pinned environments for the heavy engines (envs), the scripts run inside them (scripts/, by
name through scripts_dir), the patches applied when one is built (patches/), the result line those scripts print
(results), and the command lines and config rendering of each engine (xtuner, lmdeploy, hf_serve)."""
