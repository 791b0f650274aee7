"""The agent under a real static MicroPython built from Debian's source (marker parts):
the agent's unit tests on x86_64, the frozen agent on s390x under qemu-s390x-static."""
