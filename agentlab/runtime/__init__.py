"""The runtime: the ReAct protocol (protocol), one step type and its classifier (trace), the one ReAct episode
(episode), the agent that drives it a turn at a time (agent), the scheduler that batches many episodes (batch), and
the model backends (backends/)."""
