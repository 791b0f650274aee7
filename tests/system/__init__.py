"""The project as a user meets it on a whole system: the README's build in a fresh
debootstrapped Debian 12 root, the libvirt quick start through real libvirtd (marker system)."""
