"""Serving: a model behind an OpenAI-compatible endpoint (server), AWQ quantisation for LMDeploy (quantize), and
the network helpers servers and clients share (net)."""
