"""s390-netboot's workstation tools: `s390-netboot plan|fetch|lint|test`.

Runs on the administrator's machine under CPython, never in the boot image
(agent/manifest.py freezes agent/ only). It uses the agent's own search,
parser and selection (agent.plan, agent.pxeconfig, agent.search) so that what
it checks is what the guest would do, and packager.s390image (stdlib only) to
read kernels from their bytes. It needs nothing of the image-building
toolchain (pyelftools, libarchive, zig).
"""
