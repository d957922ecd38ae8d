"""Training data: ``convert/`` turns Agent-FLAN, Alpaca, OpenAI and ShareGPT data into XTuner's conversation
format (nothing lost: every row converted or recorded as rejected); ``synth/`` generates Agent-FLAN-format data for
any tool catalog, offline. Both render every ReAct turn through :mod:`agentlab.runtime.protocol`."""
