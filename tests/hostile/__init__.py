"""The agent against hostile servers on loopback (tests/support/hostile.py): CPython, and the
frozen s390x agent under qemu-s390x-static (marker parts)."""
