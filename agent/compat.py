"""Every difference between CPython and MicroPython the agent meets, in one place.

The rest of the agent imports what it needs from here and never tests the
implementation itself.
"""

import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"

try:
    import os
except ImportError:  # pragma: no cover
    import uos as os  # noqa: F401

try:
    from time import ticks_ms as now_ms  # milliseconds, for intervals only
except ImportError:
    def now_ms():
        return int(time.monotonic() * 1000)

try:
    # The TFTP receive loop in C, built into the image's interpreter
    # (packager/cmod/tftprx); absent under CPython. NETBOOT_TFTP_C=0 in the
    # environment (or on the kernel command line, which gives it to /init)
    # turns it off.
    from tftprx import blocks as tftp_blocks
    if getattr(os, "getenv", lambda k: None)("NETBOOT_TFTP_C") == "0":
        tftp_blocks = None
except ImportError:
    tftp_blocks = None

try:
    # mount, finit_module, kexec_load, kexec_file_load and reboot as system
    # calls, built into the image's interpreter (packager/cmod/bootsys):
    # no fork and exec of busybox or kexec-tools on the way. Absent under
    # CPython, where the same steps are busybox and kexec-tools commands.
    import bootsys
except ImportError:
    bootsys = None


# Linux socket option numbers (MicroPython's socket module names few of them).
SOL_SOCKET = 1
SO_REUSEADDR = 2
SO_RCVBUF = 8
SO_BINDTODEVICE = 25
IPPROTO_IP = 0
IP_MTU = 14
IPV6_MTU = 24
IPV6_MULTICAST_HOPS = 18
IP_RECVERR = 11
IPV6_RECVERR = 25


def path_join(*parts):
    """os.path.join for '/'-separated paths (MicroPython has no os.path)."""
    out = ""
    for p in parts:
        if p.startswith("/"):
            out = p
        elif not out or out.endswith("/"):
            out += p
        else:
            out += "/" + p
    return out


def dirname(path):
    i = path.rfind("/")
    if i < 0:
        return ""
    if i == 0:
        return "/"
    return path[:i]


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def is_dir(path):
    try:
        return (os.stat(path)[0] & 0o170000) == 0o040000
    except OSError:
        return False


def makedirs(path):
    if not path or exists(path):
        return
    makedirs(dirname(path))
    try:
        os.mkdir(path)
    except OSError:
        if not is_dir(path):
            raise


def errno_of(exc):
    """The errno of an OSError on both interpreters."""
    code = getattr(exc, "errno", None)
    if code is None and exc.args:
        code = exc.args[0]
    return code


def safe_output():
    """stdout and stderr that never raise UnicodeEncodeError (CPython): a
    strict encoding (PYTHONIOENCODING=utf-8:strict, a C locale) writes what
    it cannot encode as backslash escapes, and so do names that are not
    UTF-8 (os.listdir's and argv's surrogate escapes)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError, AttributeError):
                pass


def stderr_write(text):
    try:
        sys.stderr.write(text)
    except AttributeError:
        print(text, end="")


def latin1(data):
    """bytes as text, one character per byte. MicroPython's decode ignores
    its encoding and always reads UTF-8 (b'\\xed\\xa0\\x80'.decode('latin-1')
    is one character there), so only ASCII goes through it."""
    if MICROPYTHON:
        try:
            text = bytes(data).decode()
            if len(text) == len(data):
                return text
        except UnicodeError:
            pass
        return "".join([chr(b) for b in data])
    try:
        return data.decode("latin-1")
    except (LookupError, UnicodeError, TypeError, AttributeError):
        return "".join([chr(b) for b in data])


def dumps_sorted(obj):
    """json.dumps with keys sorted at every level (MicroPython has no sort_keys)."""
    import json
    if isinstance(obj, dict):
        return "{" + ", ".join(json.dumps(str(k)) + ": " + dumps_sorted(obj[k]) for k in sorted(obj)) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(dumps_sorted(x) for x in obj) + "]"
    return json.dumps(obj)


def gc_pace(parts):
    """MicroPython: collect after every 1/parts of the heap is allocated, so that
    a long run of small allocations (parsing a big config) keeps its survivors
    packed instead of scattering them over the whole heap between the rare
    full collections, which leaves no room for a growing list or dict.
    Returns the old setting for gc_pace_restore; CPython: nothing (None)."""
    try:
        import gc
        old = gc.threshold()
        gc.threshold(max(16384, (gc.mem_free() + gc.mem_alloc()) // parts))
        return old
    except (AttributeError, TypeError, ImportError):
        return None


def gc_pace_restore(old):
    if old is not None:
        import gc
        gc.threshold(old)


AF_INET6 = 10
IPPROTO_IPV6 = 41


_RANDOM = []


def _rng():
    """The random module, imported at first use: MicroPython's seeds itself
    from /dev/urandom when imported, and /init imports the agent before it
    has mounted /dev (an import at the top killed PID 1). None when it
    cannot be had."""
    if not _RANDOM:
        try:
            import random
            _RANDOM.append(random)
        except (ImportError, OSError):
            return None
    return _RANDOM[0]


def random_unit():
    """A random float in [0, 1) (0.5 where no random module can be had)."""
    rng = _rng()
    return rng.random() if rng is not None else 0.5


def random_bits(n):
    """n random bits as an int (n <= 32)."""
    rng = _rng()
    if rng is None:
        return (now_ms() * 2654435761) & ((1 << n) - 1)
    return rng.getrandbits(n)


def route_mtu(addr):
    """The path MTU towards a socket address (Linux IP_MTU / IPV6_MTU on a
    connected UDP socket), or None."""
    import socket
    v6 = is_v6_addr(addr)
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(addr)
        if v6:
            return s.getsockopt(IPPROTO_IPV6, IPV6_MTU)
        return s.getsockopt(IPPROTO_IP, IP_MTU)
    except (OSError, AttributeError):
        return None
    finally:
        s.close()


def recv_errors(sock, v6, on):
    """Have ICMP errors (port or host unreachable) about what a UDP socket
    sends reported by its next recvfrom as an OSError, although the socket
    is not connected (Linux IP_RECVERR / IPV6_RECVERR); off again: such
    errors are ignored, as they are by default. False when the socket
    cannot do it."""
    try:
        if v6:
            sock.setsockopt(IPPROTO_IPV6, IPV6_RECVERR, 1 if on else 0)
        else:
            sock.setsockopt(IPPROTO_IP, IP_RECVERR, 1 if on else 0)
        return True
    except (OSError, AttributeError, TypeError):
        return False


def is_v6_addr(addr):
    """Whether a socket address (CPython's tuple, MicroPython's raw sockaddr
    bytes) is IPv6: a 4-tuple, or a 28-byte struct sockaddr_in6."""
    if isinstance(addr, tuple):
        return len(addr) == 4
    return addr is not None and not isinstance(addr, str) and len(addr) >= 28


def sockaddr6(addr16, port, scope=0):
    """What sendto/bind take for an IPv6 address (16 bytes), port and scope id:
    a tuple on CPython, a raw struct sockaddr_in6 on MicroPython (whose unix
    socket module passes addresses to the kernel as they are)."""
    if MICROPYTHON:
        import struct
        # sin6_family (host order), sin6_port (network order), sin6_flowinfo,
        # sin6_addr, sin6_scope_id (host order).
        return struct.pack("H", AF_INET6) + struct.pack(">HI", port, 0) + bytes(addr16) + \
            struct.pack("I", scope)
    from agent.inet import ipv6_text
    return (ipv6_text(addr16), port, 0, scope)


def sockaddr6_parts(addr):
    """(16-byte address, port, scope id) of an IPv6 socket address, either form."""
    if isinstance(addr, tuple):
        from agent.inet import parse_ipv6
        host = addr[0].split("%", 1)[0]
        return parse_ipv6(host), addr[1], addr[3]
    import struct
    a = bytes(addr)
    return a[8:24], struct.unpack(">H", a[2:4])[0], struct.unpack("I", a[24:28])[0]


def sockaddr_host(addr):
    """The address part of a socket address, comparable between packets: the
    host text of CPython's tuple, the address bytes of MicroPython's raw
    struct sockaddr_in (family, port, address) or sockaddr_in6 (family, port,
    flowinfo, address, scope id)."""
    if isinstance(addr, tuple):
        return addr[0]
    if len(addr) >= 28:
        return bytes(addr[8:24])
    return bytes(addr[4:8])


def sockaddr_text(addr):
    """A socket address, either form, as 'a.b.c.d:port' or '[v6%scope]:port'."""
    if is_v6_addr(addr):
        from agent.inet import ipv6_text
        ip, port, scope = sockaddr6_parts(addr)
        return "[%s%s]:%d" % (ipv6_text(ip), "%%%d" % scope if scope else "", port)
    if isinstance(addr, tuple):
        return "%s:%d" % (addr[0], addr[1])
    a = bytes(addr)
    return "%d.%d.%d.%d:%d" % (a[4], a[5], a[6], a[7], (a[2] << 8) | a[3])


def _tls_new():
    if MICROPYTHON:
        import tls
        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = tls.CERT_REQUIRED
        # ChaCha20-Poly1305 first (RFC 7905; servers follow the client's order
        # unless told otherwise, nginx's ssl_prefer_server_ciphers is off):
        # mbedtls's AES here is software, with no AES-NI or CPACF, and
        # decrypted 48 MiB from nginx at 24 MiB/s (AES-256-GCM, its first
        # choice) against 199 MiB/s for ChaCha20-Poly1305 (x86_64 build).
        names = ctx.get_ciphers()
        first = [n for n in names if "CHACHA20" in n]
        if first:
            ctx.set_ciphers(first + [n for n in names if "CHACHA20" not in n])
        return ctx
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    return ctx


def _tls_load(ctx, pem):
    if MICROPYTHON:
        ctx.load_verify_locations(pem)
        return
    import ssl
    try:
        ctx.load_verify_locations(cadata=pem)
    except (ssl.SSLError, TypeError) as e:  # TypeError: non-ASCII text (a comment) around the blocks
        raise ValueError(str(e))


def tls_context(cadata, blocks, cut=0):
    """(context, certificates skipped) for a TLS client trusting the PEM
    certificates in cadata (text; blocks: its certificates one by one, cut:
    how many blocks of it were cut short): TLS 1.2 or newer, the chain
    checked against them, the host name checked and sent as SNI by
    tls_wrap. MicroPython: its tls module on mbedtls; CPython: ssl. A
    certificate the library cannot parse is skipped (one bad one would
    otherwise void the whole trust store); ValueError when none is usable."""
    ctx = _tls_new()
    try:
        _tls_load(ctx, cadata)
        return ctx, 0
    except ValueError:
        pass
    ctx = _tls_new()
    loaded, skipped = 0, cut
    for block in blocks:
        try:
            _tls_load(ctx, block)
            loaded += 1
        except ValueError:
            skipped += 1
    if not loaded:
        raise ValueError("no certificate the TLS library can use (%d unusable)" % skipped)
    return ctx, skipped


def tls_wrap(ctx, sock, host, session=None):
    """A TLS socket over sock for host (SNI, the host name checked).

    CPython: after a completed, verified handshake, within sock's timeout.
    MicroPython: before the handshake, over sock made non-blocking: the first
    write does the handshake, returning None whenever it must wait, so each
    wait goes through the caller's poll and deadline (mbedtls's own
    handshake loop and record reads would wait for ever on a server that
    trickles bytes or stops). Raises ValueError or OSError (tls_failure
    tells which kind) when it fails, here or at that write.

    session: one tls_session gave for a connection to the same host and
    port, offered for resumption (RFC 5077 tickets): a server that takes
    it skips the certificate exchange and the key agreement, one that does
    not makes a full, verified handshake. MicroPython offers it only where
    the image's patched tls module can (packager/micropython.py,
    patch_tls_session)."""
    if MICROPYTHON:
        sock.setblocking(False)
        s = ctx.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        if session is not None and hasattr(s, "set_session"):
            s.set_session(session)
        return s
    return ctx.wrap_socket(sock, server_hostname=host, session=session)


def tls_session(sock):
    """The session of a TLS socket whose handshake is over, for tls_wrap to
    resume a later connection to the same server with; None when there is
    none. Take it once per connection, after a response has come (TLS 1.3
    sends its tickets after the handshake; mbedtls exports a session once)."""
    if MICROPYTHON:
        get = getattr(sock, "get_session", None)
        return get() if get is not None else None
    return sock.session


def tcp_nodelay(sock):
    """Send small writes at once (TCP_NODELAY; Linux's numbers where
    MicroPython's socket module has no names for them). mbedtls writes each
    handshake record with a send of its own: with Nagle's algorithm the
    second waits for the server's ACK of the first, which the server delays
    (about 40 ms on Linux) as it waits for the rest of the flight."""
    import socket
    try:
        sock.setsockopt(getattr(socket, "IPPROTO_TCP", 6), getattr(socket, "TCP_NODELAY", 1), 1)
    except (OSError, AttributeError):
        pass


TLS_DEFERRED = MICROPYTHON  # tls_wrap's handshake happens at the first write


def tls_failure(exc):
    """The text to classify a failed handshake by: mbedtls's verify message,
    or OpenSSL's verify message and reason."""
    parts = [str(exc)]
    for attr in ("verify_message", "reason"):
        v = getattr(exc, attr, None)
        if v:
            parts.append(str(v))
    return " ".join(parts)


def recv_into(sock):
    """A TLS socket's read into a buffer: f(memoryview) -> count, 0 at the
    end, None when the non-blocking socket needs more records first.
    CPython's has recv_into; MicroPython's readinto (which returns what a
    non-blocking socket has)."""
    f = getattr(sock, "recv_into", None)
    return f if f is not None else sock.readinto


def plain_io(sock):
    """(recv, send, recv_into) of a connected TCP socket, whose reads return
    what has arrived (the caller polls first, with its own deadline).
    CPython: recv, send and recv_into. MicroPython: its socket's readinto
    fills the whole buffer before it returns (a body dripping one byte at a
    time never reaches the deadline), so the socket is made non-blocking and
    its stream methods used, which return None where they would wait, as
    its TLS socket's do."""
    if not MICROPYTHON:
        return sock.recv, sock.send, sock.recv_into
    sock.setblocking(False)
    return sock.read, sock.write, sock.readinto


def tls_pending(sock):
    """Decrypted bytes a TLS socket holds that polling its descriptor would miss
    (CPython; MicroPython's TLS socket answers poll with them counted)."""
    pending = getattr(sock, "pending", None)
    return pending() if pending is not None else 0


MBEDTLS_CONN_EOF = -0x7280


def tls_eof(exc):
    """A TLS read error that only means the peer closed the TCP connection
    without close_notify (a cut connection: the caller counts the bytes)."""
    if errno_of(exc) == MBEDTLS_CONN_EOF:
        return True
    return type(exc).__name__ in ("SSLEOFError", "SSLZeroReturnError")


SIG_CHECK_NEEDS_DATA = not MICROPYTHON   # sig_check wants the file (path or data), not just its digest


def sig_check(sig, digest, roots, path=None, data=None):
    """The reason code (agent.verify) of a detached signature sig over a file
    whose SHA-256 is digest, against the PEM roots (bytes). MicroPython: the
    image's mbedtls (packager/cmod/sigcheck), from the digest alone; CPython:
    openssl(1) (agent/sig_openssl.py), from the file (path or data)."""
    if MICROPYTHON:
        import sigcheck
        return sigcheck.verify(sig, digest, roots)
    from agent.sig_openssl import verify
    return verify(sig, digest, roots, path, data)
