"""Every difference between CPython and MicroPython the agent meets, in one place."""

import sys

MICROPYTHON = sys.implementation.name == "micropython"
