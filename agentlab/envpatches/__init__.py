"""Patch scripts run inside engine environments after install (each says why)."""
