"""packager: the initramfs writer, the s390 image, ELF and module closures (some on
Debian's s390x parts: marker parts) and whole `packager build` runs (marker slow)."""
