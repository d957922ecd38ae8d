"""Standalone scripts run by engine environments (they import only torch and transformers, never agentlab)."""
