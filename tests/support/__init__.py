"""Helpers the tests share (none of them is a test): real servers in network
namespaces, hostile fakes, the loss relay, a test CA and nginx, the netboot
image and second stage, the QEMU and libvirt labs, the MicroPython runner."""

import os

# The checkout's root: tests/support/ is two levels below it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
