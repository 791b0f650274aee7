"""QEMU scenarios: qemu-system-s390x netboots our pxelinux.0 from dnsmasq in a network
namespace (root, Debian's s390x parts; markers qemu, servers, parts)."""
