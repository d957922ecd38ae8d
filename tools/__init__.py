"""agentlab.tools"""
