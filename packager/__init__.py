"""s390-netboot's host-side packager: builds pxelinux.0 for s390x KVM guests."""
