from agentlab.app.cli import main

main()
