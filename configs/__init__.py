"""Presets shipped as package data: envs/ (engine pins), xtuner/, opencompass/, lmdeploy/."""
