"""The agent's unit tests: no network, no root, no Debian parts. They run under
CPython here and under MicroPython (tests/micropython, through tests/support/mpy_runner.py),
so they use only what both share: plain functions and asserts, no pytest fixtures."""
