"""agentlab.datasets_conv"""
