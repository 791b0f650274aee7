"""The agent's clients against real servers: Debian's atftpd, tftpd-hpa, dnsmasq, nginx and
busybox udhcpc in network namespaces (root; marker servers), Python's http.server on loopback."""
