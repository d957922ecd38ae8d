"""agentlab.evals"""
