"""`dms bench`: what the session costs on this board (docs/bench.md). command.py is the CLI's entry."""
