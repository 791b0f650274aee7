"""TFTP client: RFC 1350 with option negotiation (RFC 2347), blksize (RFC 2348),
tsize and timeout (RFC 2349) and windowsize (RFC 7440). Read requests only.

Three layers:
- a packet codec (encode_* / decode), pure;
- Receiver, a state machine fed one packet at a time with the time it
  arrived, returning the packets to send; it never touches a socket, so
  tests drive it with any sequence of packets;
- transfer(), a thin loop over a UDP socket and select.poll that writes
  into a file-like sink, retransmits with backoff and gives up after a
  bounded time.

In the image's interpreter, transfer() hands the plain case -- full,
in-order DATA blocks from the peer, acknowledged every window -- to tftprx,
a C loop built into the interpreter (packager/cmod/tftprx), which writes
them into the BatchingSink's buffer and hands every other packet back,
untouched, to the Receiver: the protocol rules live here only. Without it
(CPython, or NETBOOT_TFTP_C=0 in the environment) the same loop runs in
Python, packet by packet. Under MicroPython (callgrind, x86_64, lock-step
blocks of 1428 bytes) a block costs 77k instructions in Python and 1.3k
with tftprx.

Behaviour in the hard cases:
- a packet from a foreign transfer ID gets ERROR 5 and is otherwise ignored;
- inside a window, an out-of-order block is dropped and answered once with an
  ACK of the last in-order block (RFC 7440), so the server resends from
  there; duplicates are dropped, and the last ACK is repeated for a duplicate
  only when it comes long after that ACK was sent (the server timed out and
  resent the window, so our ACK was lost); duplicates a network makes a few
  milliseconds apart are not answered, so nothing is amplified (the
  Sorcerer's Apprentice bug);
- block numbers roll over past 65535 to 0;
- the size announced by tsize is checked against what arrived, and a file
  larger than the space given is refused before its first block;
- an OACK without some options means the server's defaults for them; a plain
  DATA answer means no options at all; ERROR 8 makes the caller retry
  without options;
- any other ERROR in answer to the request means the file cannot be had, as
  in PXELINUX (core/fs/pxe/tftp.c treats every ERROR reply alike): the
  config search goes on to the next name; an ERROR after the first block is
  a failed transfer; the server's text is cleaned of control characters and
  cut short before it reaches a message;
- before the server's first answer, an ICMP port or host unreachable about
  the request (Linux reports it on an unconnected socket with IP_RECVERR)
  ends the try at once instead of after the time-out; TftpFetcher then asks
  the server's next address (a name with several is several servers; each
  but the last also gets ANSWER_S seconds of silence), and when every
  address refused or was busy, asks again after a randomised backoff, as
  for an ERROR 0 "busy" answer;
- the transfer ends when its Deadline (agent.fetch) passes: only blocks
  delivered in order extend it, so a server repeating a block, sending
  OACKs, future blocks or junk, or dripping blocks, cannot keep it alive.
"""

import struct

from agent.compat import (SO_RCVBUF, SOL_SOCKET, is_v6_addr, latin1, recv_errors, sockaddr_host, sockaddr_text,
                          tftp_blocks as C_BLOCKS)
from agent.text import clean_text
from agent.fetch import (IDLE_S, backoff_s, MIN_RATE, BatchingSink, Deadline, FetchError, MemorySink, NotFound,
                         Refused, TimedOut, TooLarge, Unreachable, check_space, os_reason)

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6
ERR_NOT_FOUND, ERR_ACCESS, ERR_ILLEGAL, ERR_UNKNOWN_TID, ERR_OPTIONS = 1, 2, 4, 5, 8
DEFAULT_BLKSIZE = 512
MAX_BLKSIZE = 65464
DEFAULT_WINDOW = 16
# A window must fit in the socket's receive buffer (Linux's default is about
# 208 KiB, counted with per-packet overhead) or its tail is dropped: with the
# largest blocks (loopback's MTU) that means one block per window.
WINDOW_BYTES = 96 * 1024
RCVBUF = 1 << 20
# IPv4 header 20 + UDP header 8 + TFTP DATA header 4.
OVERHEAD = 32
# IPv6 header 40 + UDP header 8 + TFTP DATA header 4.
OVERHEAD6 = 52


def blksize_for_mtu(mtu, ipv6=False):
    return max(8, min(MAX_BLKSIZE, mtu - (OVERHEAD6 if ipv6 else OVERHEAD)))


class ProtocolError(FetchError):
    pass


class OptionsRefused(FetchError):
    """The server answered the options with ERROR 8: retry without them."""


class NoAnswer(TimedOut):
    """No answer at all to the request within the time given to one of a
    server's several addresses: the next one is asked."""


class ServerRefused(NotFound):
    """An ERROR other than "file not found" in answer to the request: the file
    cannot be had, which PXELINUX treats as not found."""


# ---- codec -----------------------------------------------------------------

def encode_rrq(filename, options=None, mode="octet"):
    parts = [struct.pack(">H", RRQ), filename.encode(), b"\0", mode.encode(), b"\0"]
    if options:
        for key, value in options:
            parts += [key.encode(), b"\0", str(value).encode(), b"\0"]
    return b"".join(parts)


def encode_ack(block):
    return struct.pack(">HH", ACK, block & 0xFFFF)


def encode_error(code, message):
    return struct.pack(">HH", ERROR, code) + message.encode() + b"\0"


def encode_data(block, data):
    return struct.pack(">HH", DATA, block & 0xFFFF) + data


def encode_oack(options):
    out = [struct.pack(">H", OACK)]
    for key, value in options:
        out += [key.encode(), b"\0", str(value).encode(), b"\0"]
    return b"".join(out)


def _strings(data):
    items = data.split(b"\0")
    if items and items[-1] == b"":
        items = items[:-1]
    return [latin1(x) for x in items]


def decode(packet):
    """(opcode, fields) of a packet; raises ProtocolError on garbage.

    DATA -> (block, payload); ACK -> block; ERROR -> (code, message);
    OACK -> dict of lower-case option names to strings; RRQ/WRQ -> (name, mode, options).
    """
    if len(packet) < 2:
        raise ProtocolError("runt packet of %d bytes" % len(packet))
    op = (packet[0] << 8) | packet[1]
    if op == DATA:
        if len(packet) < 4:
            raise ProtocolError("short DATA packet")
        return op, ((packet[2] << 8) | packet[3], packet[4:])
    if op == ACK:
        if len(packet) < 4:
            raise ProtocolError("short ACK packet")
        return op, (packet[2] << 8) | packet[3]
    if op == ERROR:
        if len(packet) < 4:
            raise ProtocolError("short ERROR packet")
        msg = packet[4:4 + 512]  # the text of a 60 KB ERROR is not worth more
        if b"\0" in msg:
            msg = msg[:msg.index(b"\0")]
        return op, ((packet[2] << 8) | packet[3], latin1(msg))
    if op == OACK:
        items = _strings(packet[2:])
        if len(items) % 2:
            raise ProtocolError("OACK with an option name but no value")
        opts = {}
        for i in range(0, len(items), 2):
            opts[items[i].lower()] = items[i + 1]
        return op, opts
    if op in (RRQ, WRQ):
        items = _strings(packet[2:])
        if len(items) < 2:
            raise ProtocolError("request without file name and mode")
        opts = {}
        for i in range(2, len(items) - 1, 2):
            opts[items[i].lower()] = items[i + 1]
        return op, (items[0], items[1], opts)
    raise ProtocolError("unknown opcode %d" % op)


# ---- state machine ---------------------------------------------------------

class Receiver:
    """Receives one file. feed(packet, now_ms) -> list of packets to send.

    Attributes after the transfer: done, size, blksize, windowsize, tsize,
    options (what the server accepted), blocks, duplicates, out_of_order.
    The sink gets write(data) calls in file order; data is a memoryview of
    the packet, valid during the call only: a sink copies what it keeps.
    """

    REACK_AFTER_MS = 300

    def __init__(self, sink, requested=None, max_size=None):
        self.sink = sink
        self.requested = dict(requested or {})
        self.max_size = max_size
        self.blksize = DEFAULT_BLKSIZE
        self.windowsize = 1
        self.tsize = None
        self.options = {}
        self.started = False
        self.done = False
        self.size = 0
        self.last = 0            # block number (mod 65536) of the last in-order block
        self.since_ack = 0
        self.last_ack = None     # packet
        self.last_ack_ms = 0
        self.gap_acked = False
        self.blocks = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.reacks = 0
        self.retransmits = 0
        self.c_blocks = 0        # of blocks, those the C loop (tftprx) took

    def _accept_options(self, opts):
        for key in opts:
            if key not in self.requested:
                raise ProtocolError("server acknowledged option %s, which was not requested" % key)
        if "blksize" in opts:
            b = int(opts["blksize"])
            if b < 8 or b > int(self.requested["blksize"]):
                raise ProtocolError("server chose blksize %d, outside 8..%s" % (b, self.requested["blksize"]))
            self.blksize = b
        if "windowsize" in opts:
            w = int(opts["windowsize"])
            if w < 1 or w > int(self.requested["windowsize"]):
                raise ProtocolError("server chose windowsize %d, outside 1..%s"
                                    % (w, self.requested["windowsize"]))
            self.windowsize = w
        if "tsize" in opts:
            self.tsize = int(opts["tsize"])
            if self.tsize < 0:
                raise ProtocolError("server announced a negative tsize %d" % self.tsize)
            check_space(self.tsize, self.max_size)
        self.options = opts

    def _ack(self, block, now):
        pkt = encode_ack(block)
        self.acked(pkt, now)
        self.since_ack = 0
        return [pkt]

    def acked(self, pkt, when):
        """An ACK went out at when (by this state machine, or the C loop)."""
        self.last_ack = pkt
        self.last_ack_ms = when

    def feed(self, packet, now=0):
        # Nearly every packet of a transfer is the next DATA block (opcode 3):
        # it goes straight to _in_order, without decode()'s tuple and payload
        # copy. (Literals, not globals: each global is a dictionary lookup.)
        if self.started and len(packet) > 3 and packet[1] == 3 and packet[0] == 0 and \
                ((packet[2] << 8) | packet[3]) == (self.last + 1) & 0xFFFF:
            return self._in_order((packet[2] << 8) | packet[3], packet, now)
        if self.started and len(packet) >= 2 and packet[0] == 0 and packet[1] == OACK:
            # A duplicate OACK (our ACK 0 is on its way or was lost), ignored before
            # it is decoded: once the transfer runs only blksize + 5 bytes are read,
            # and a longer OACK arrives cut, which decode() would refuse.
            return []
        op, body = decode(packet)
        if op == ERROR:
            code, msg = body
            msg = clean_text(msg)
            if code == ERR_NOT_FOUND and not self.blocks:
                raise NotFound("not found (%s)" % msg if msg else "not found", None, code, msg)
            if code == ERR_OPTIONS and not self.started:
                raise OptionsRefused("server refused the options: %s" % msg, None, code, msg)
            if not self.blocks:
                raise ServerRefused("server error %d: %s" % (code, msg), None, code, msg)
            raise FetchError("server error %d after %d blocks: %s" % (code, self.blocks, msg), None, code, msg)
        if op == OACK:
            try:
                self._accept_options(body)
            except (ValueError, ProtocolError) as e:
                raise ProtocolError("bad OACK: %s" % clean_text(str(e)), None, ERR_OPTIONS)
            self.started = True
            return self._ack(0, now)
        if op != DATA:
            raise ProtocolError("unexpected packet with opcode %d" % op)
        block, payload = body
        if not self.started:
            # The server ignored our options: RFC 1350 defaults.
            self.started = True
            self.options = {}
        expected = (self.last + 1) & 0xFFFF
        if block == expected:
            return self._in_order(block, packet, now)
        # Not the next block: ahead (lost packets) or behind (duplicate).
        ahead = (block - expected) & 0xFFFF
        if ahead < 0x8000:
            self.out_of_order += 1
            if not self.gap_acked:
                self.gap_acked = True
                return self._ack(self.last, now)
            return []
        self.duplicates += 1
        if block == self.last and self.last_ack is not None and \
                now - self.last_ack_ms >= self.REACK_AFTER_MS:
            self.reacks += 1
            return self._ack(self.last, now)
        return []

    def _in_order(self, block, packet, now):
        """The next block (packet is the whole DATA packet): to the sink, ACK
        at the end of a window or of the file."""
        n = len(packet) - 4
        if n > self.blksize:
            raise ProtocolError("block %d has %d bytes, more than blksize %d" % (block, n, self.blksize))
        self.size += n
        if self.max_size is not None:
            check_space(self.size, self.max_size)
        if n:
            # A view, not a copy: the sink copies what it keeps.
            self.sink.write(memoryview(packet)[4:])
        self.last = block
        self.blocks += 1
        self.since_ack += 1
        self.gap_acked = False
        if n < self.blksize:
            self.done = True
            if self.tsize is not None and self.tsize != self.size:
                raise FetchError("server announced %d bytes (tsize) but sent %d" % (self.tsize, self.size))
            return self._ack(block, now)
        if self.since_ack >= self.windowsize:
            return self._ack(block, now)
        return []

    def absorb(self, blocks, nbytes, last, since_ack):
        """Account for full in-order blocks that tftprx (the C loop) put into
        the sink's buffer and acknowledged: the same state _in_order leaves."""
        self.size += nbytes
        self.last = last
        self.blocks += blocks
        self.since_ack = since_ack
        self.gap_acked = False

    def timeout_packet(self):
        """What to resend when nothing arrived in time (None before the first answer)."""
        if not self.started:
            return None
        if self.last_ack is None or self.since_ack:
            return encode_ack(self.last)
        return self.last_ack


# ---- socket loop -----------------------------------------------------------

class Rto:
    """Retransmission timeout from measured round trips (RFC 6298's estimator,
    Karn's rule: no sample from a retransmitted request), in milliseconds.
    Integer arithmetic: it runs for every block, and under MicroPython each
    float is an allocation."""

    def __init__(self, initial_ms, min_ms=200, max_ms=None):
        self.initial = initial_ms
        self.min = min_ms
        self.max = max_ms or initial_ms * 8
        self.srtt = None
        self.rttvar = 0
        self.rto = initial_ms
        self.sent_at = None
        self.retransmitted = False

    def sent(self, now):
        if self.sent_at is None:
            self.sent_at = now
            self.retransmitted = False

    def received(self, now):
        if self.sent_at is not None and not self.retransmitted:
            self.sample(now - self.sent_at)
        self.sent_at = None

    def sample(self, sample):
        """One measured round trip, in milliseconds."""
        if sample < 0:
            sample = 0
        if self.srtt is None:
            self.srtt, self.rttvar = sample, sample // 2
        else:
            diff = self.srtt - sample
            self.rttvar = (3 * self.rttvar + (diff if diff > 0 else -diff)) // 4
            self.srtt = (7 * self.srtt + sample) // 8
        rto = self.srtt + 4 * self.rttvar
        if rto > self.initial:
            rto = self.initial
        self.rto = rto if rto > self.min else self.min

    def pending(self, at):
        """A first send at `at` waits for its answer (sent by the C loop)."""
        self.sent_at = at
        self.retransmitted = False

    def adopt(self, srtt, rttvar, rto):
        """The estimate another estimator (the C loop's) arrived at."""
        self.srtt, self.rttvar, self.rto = srtt, rttvar, rto

    def backoff(self):
        self.retransmitted = True
        self.rto = min(self.max, self.rto * 2)
        return self.rto

def transfer(sock_factory, server_addr, filename, sink, options=None, timeout=1.0,
             total_timeout=IDLE_S, max_size=None, progress=None, min_rate=MIN_RATE, answer_s=None):
    """Fetch filename into sink; returns the finished Receiver.

    sock_factory() returns a fresh UDP socket; server_addr is what sendto
    takes; options is a list of (name, value) to request (None: none).
    Retransmits after timeout seconds, doubling up to 8x. Gives up when no
    block arrived in order for total_timeout seconds, or when blocks arrive
    slower than min_rate bytes/s on average (agent.fetch.Deadline). An ERROR 8
    answer makes it try once more without options. Before the server's first
    answer: an ICMP error about the request (when the socket reports them,
    agent.compat.recv_errors) raises Unreachable, and with answer_s, silence
    for that long raises NoAnswer.
    """
    try:
        return _transfer_once(sock_factory, server_addr, filename, sink, options, timeout,
                              total_timeout, max_size, progress, min_rate, answer_s)
    except OptionsRefused:
        if hasattr(sink, "seek"):
            sink.seek(0)
            if hasattr(sink, "truncate"):
                sink.truncate()
        return _transfer_once(sock_factory, server_addr, filename, sink, None, timeout,
                              total_timeout, max_size, progress, min_rate, answer_s)


# Statuses of tftprx.blocks (packager/cmod/tftprx/tftprx.c).
C_BUDGET, C_FULL, C_PACKET, C_TIMEOUT = 0, 1, 2, 3
C_BUDGET_MS = 250   # the C loop hands back at least this often (deadline, progress)


def _c_loop_for(sink, blksize):
    """tftprx.blocks when the C loop can run for this sink: it writes into a
    BatchingSink's buffer; anything else (configs into memory) stays in Python."""
    if C_BLOCKS is None or not isinstance(sink, BatchingSink) or blksize + 1 > len(sink.buf):
        return None
    return C_BLOCKS


def _transfer_once(sock_factory, server_addr, filename, sink, options, timeout, total_timeout,
                   max_size, progress, min_rate=MIN_RATE, answer_s=None):
    import select
    from agent.compat import now_ms
    sock = sock_factory()
    try:
        rx = Receiver(sink, dict(options or []), max_size)
        request = encode_rrq(filename, options)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        try:
            sock.sendto(request, server_addr)
        except OSError as e:   # no route to it
            raise Unreachable("%s: %s" % (sockaddr_text(server_addr), os_reason(e, True)))
        peer = None
        server_ip = sockaddr_host(server_addr)
        rto = Rto(int(timeout * 1000))
        start = now_ms()
        deadline = Deadline(start, total_timeout, min_rate)
        last_heard = start       # the latest packet from the server, progress or not
        resend_at = start + int(rto.rto)
        # The first answer must come by then (None: the deadline only).
        answer_end = start + int(answer_s * 1000) if answer_s else None
        rto.sent(start)
        last_report = start
        fast = None              # tftprx.blocks, once the transfer runs
        # Bound once: the loop runs for every block.
        recvfrom, sendto, poll, feed = sock.recvfrom, sock.sendto, poller.poll, rx.feed
        while not rx.done:
            now = now_ms()
            if deadline.expired(now):
                if now - last_heard >= deadline.idle:
                    why = "no answer from %s for %d s" % (sockaddr_text(server_addr), (now - last_heard) // 1000)
                else:
                    why = "%s from %s" % (deadline.reason(now), sockaddr_text(server_addr))
                raise TimedOut("%s (after %d blocks)" % (why, rx.blocks))
            if progress is not None and now - last_report >= 500:
                last_report = now
                progress(rx.size, rx.tsize)
            if peer is None and answer_end is not None:
                if now >= answer_end:
                    raise NoAnswer("%s: no answer within %d s" % (sockaddr_text(server_addr), answer_s))
                wait = min(resend_at, deadline.end, answer_end) - now
            else:
                wait = (resend_at if resend_at < deadline.end else deadline.end) - now
            # Integers throughout (MicroPython's poll takes no float).
            wait = int(wait) if wait > 1 else 1
            if fast is None and peer is not None and rx.started:
                fast = _c_loop_for(sink, rx.blksize) or False
                fileno = sock.fileno() if fast else None
            if fast:
                # Full in-order blocks from the peer go into the sink's buffer
                # in C; anything else comes back as a packet for feed().
                result = fast(fileno, peer, sink.buf, sink.size, rx.last, rx.blksize, rx.windowsize,
                              rx.since_ack, -1 if max_size is None else max_size - rx.size, wait, C_BUDGET_MS,
                              -1 if rto.srtt is None else rto.srtt, rto.rttvar, rto.rto, rto.min, rto.initial)
                now = now_ms()
                st, data, addr = result[0], result[12], result[13]
                quiet = _adopt_c(result, now, sink, rx, rto, deadline)
                if quiet is not None:
                    last_heard = now - quiet
                    resend_at = now - quiet + int(rto.rto)
                if st != C_PACKET:
                    if st == C_TIMEOUT and now >= resend_at:
                        resend_at = now + _retransmit(sock, rx, rto, request, peer)
                    continue
            else:
                events = poll(wait)
                now = now_ms()
                if not events:
                    if now >= resend_at:
                        resend_at = now + _retransmit(sock, rx, rto, request, peer or server_addr)
                    continue
                # A buffer for one block (+1 byte to notice an oversized one), not
                # 64 KiB: under MicroPython every recvfrom allocates its buffer.
                if peer is None:
                    try:
                        data, addr = recvfrom(65536)
                    except OSError as e:
                        # An ICMP error about the request (recv_errors): nobody serves there.
                        raise Unreachable("%s: %s" % (sockaddr_text(server_addr), os_reason(e, True)))
                else:
                    data, addr = recvfrom(rx.blksize + 5 if rx.started else 65536)
            if peer is None:
                if sockaddr_host(addr) != server_ip:
                    continue
                peer = addr
                # From here on an ICMP error (our ERROR 5 to a stray sender
                # that has gone) is no reason to stop.
                recv_errors(sock, is_v6_addr(addr), False)
            elif addr != peer:
                sock.sendto(encode_error(ERR_UNKNOWN_TID, "Unknown transfer ID"), addr)
                continue
            last_heard = now
            before = rx.size
            blocks = rx.blocks
            try:
                replies = feed(data, now)
            except ProtocolError as e:
                sock.sendto(encode_error(e.code or ERR_ILLEGAL, str(e)[:100]), peer)
                raise
            except TooLarge:
                sock.sendto(encode_error(3, "Disk full or allocation exceeded"), peer)
                raise
            moved = rx.blocks != blocks
            if moved or replies:
                rto.received(now)
            deadline.progress(rx.size - before, now)
            for r in replies:
                sendto(r, peer)
            if replies:
                rto.sent(now)
            if replies or moved:
                # Something moved: the resend timer starts again. Duplicates,
                # OACK repeats and out-of-order blocks do not push it back.
                resend_at = now + int(rto.rto)
        if progress is not None:
            progress(rx.size, rx.tsize)
        return rx
    finally:
        sock.close()


def _adopt_c(result, now, sink, rx, rto, deadline):
    """Take over what one call of tftprx.blocks (the C loop) did: the blocks
    it put into the sink's buffer, the ACK it sent last, its RTT estimate
    and its pending send. Returns how many ms ago the last block came, or
    None when none came."""
    st, pos, last, n, since, ack_age, pending_age, quiet, first_age, srtt, rttvar, rtov = result[:12]
    if n:
        nbytes = pos - sink.size
        sink.size = pos
        rx.absorb(n, nbytes, last, since)
        rx.c_blocks += n
        deadline.progress(nbytes, now)
        rto.adopt(None if srtt < 0 else srtt, rttvar, rtov)
        rto.received(now - first_age)  # the answer to what Python sent last, if anything
    if ack_age >= 0:
        rx.acked(encode_ack(last - since), now - ack_age)
    if pending_age >= 0:
        rto.pending(now - pending_age)
    if st == C_FULL:
        sink.flush()
    return quiet if n else None


def _retransmit(sock, rx, rto, request, to):
    """Nothing came in time: resend the last ACK (or the request); the next wait."""
    pkt = rx.timeout_packet()
    sock.sendto(pkt if pkt is not None else request, to)
    rx.retransmits += 1
    return int(rto.backoff())


BUSY_RETRIES = 4
BUSY_WORDS = ("busy", "too many", "try again", "overload", "no more")


def busy(e):
    """Whether a TFTP ERROR answer to the request means "not now" (a server at
    its limit of transfers says so in an ERROR 0's text) rather than "not
    here": asked again after a backoff, never taken as "not found"."""
    text = (e.server_text or "").lower()
    return e.code == 0 and any(w in text for w in BUSY_WORDS)


def resolve_all(host, port, kind=None):
    """The socket addresses of a host (IPv4, IPv6 with an optional zone, or a
    name: every address it has, IPv4 first, agent.inet.address_order) and
    port, in the order to try them."""
    import socket
    from agent.inet import address_order
    kind = kind or socket.SOCK_DGRAM
    if ":" in host:
        from agent.inet import split_zone
        split_zone(host)  # ValueError for a malformed address or zone
        addrs = address_order(socket.getaddrinfo(host, port, socket.AF_INET6, kind))
    else:
        addrs = address_order(socket.getaddrinfo(host, port, 0, kind))
    if not addrs:
        raise OSError("no address for %s" % clean_text(host, 60))
    return addrs


def resolve(host, port, kind=None):
    """The first of resolve_all's addresses."""
    return resolve_all(host, port, kind)[0]


ANSWER_S = 3   # of a server's several addresses, each but the last must answer the request within this


class TftpFetcher:
    """tftp://HOST[:PORT]/NAME through transfer(), for configs and large files."""

    def __init__(self, blksize=None, windowsize=DEFAULT_WINDOW, timeout=1.0, total_timeout=IDLE_S,
                 default_port=69, use_options=True, tsize=True, mtu_of=None, space_for=None,
                 server_timeout=1, min_rate=MIN_RATE):
        self.blksize = blksize
        self.windowsize = windowsize
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.default_port = default_port
        self.use_options = use_options
        self.tsize = tsize
        self.mtu_of = mtu_of
        self.space_for = space_for
        self.server_timeout = server_timeout
        self.min_rate = min_rate
        self.last = None
        self.busy_retries = BUSY_RETRIES
        self.busy_waits = 0      # backoffs after a busy server or an ICMP refusal
        self.answer_s = ANSWER_S
        self.tried = []          # the addresses that failed before the last transfer's

    def _options(self, addr):
        if not self.use_options:
            return None
        blksize = self.blksize
        if blksize is None:
            mtu = self.mtu_of(addr) if self.mtu_of else None
            blksize = blksize_for_mtu(mtu or 1500, is_v6_addr(addr))
        opts = [("blksize", blksize)]
        if self.tsize:
            opts.append(("tsize", 0))
        window = min(self.windowsize or 1, max(1, WINDOW_BYTES // (blksize + 64)))
        if window > 1:
            opts.append(("windowsize", window))
        if self.server_timeout:
            # RFC 2349: the server retransmits after this many seconds (atftpd waits 5 by default).
            opts.append(("timeout", self.server_timeout))
        return opts

    def _target(self, url):
        from agent.inet import split_url
        try:
            scheme, host, port, path = split_url(url)
        except ValueError as e:
            raise Refused("%s: bad URL (%s)" % (clean_text(url), e))
        for c in path:
            if ord(c) < 32 or ord(c) == 127:
                raise Refused("%s: a control character in the file name" % clean_text(url))
        if not host:
            raise Refused("%s: no server in the URL" % clean_text(url))
        return resolve_all(host, port or self.default_port), path

    def _run(self, url, sink, max_size, progress):
        """One transfer, from the first of the server's addresses that serves
        it. Before any answer, a refusal (ICMP), or a busy server (ERROR 0),
        goes on to the next address, and silence for answer_s seconds too
        (the last address has the whole time-out); when every address failed
        so, the round starts again after a backoff, busy_retries times."""
        try:
            addrs, name = self._target(url)
        except (OSError, UnicodeError, ValueError) as e:
            raise FetchError("%s: cannot resolve the server (%s)" % (clean_text(url), e))
        self.tried = []
        attempt = 0
        i = 0
        while True:
            addr = addrs[i]
            last = i == len(addrs) - 1
            try:
                rx = transfer(self._socket_factory(addr), addr, name, sink, self._options(addr), self.timeout,
                              self.total_timeout, max_size, progress, self.min_rate,
                              None if last else self.answer_s)
                break
            except (ServerRefused, Unreachable, NoAnswer) as e:
                if isinstance(e, ServerRefused) and not busy(e):
                    raise type(e)(str(e), url, e.code, e.server_text)
                # Not now or not there: another address, or later (a config
                # search must not take the next name for it).
                self.tried.append("%s (%s)" % (sockaddr_text(addr), str(e).split(": ", 1)[-1]))
                if hasattr(sink, "seek"):
                    sink.seek(0)
                    sink.truncate()
                if not last:
                    i += 1
                    continue
                if attempt == self.busy_retries:
                    if len(addrs) > 1:
                        raise type(e)("no address of the server served it: %s" % ", ".join(self.tried[-len(addrs):]),
                                      url, e.code, e.server_text)
                    raise type(e)(str(e), url, e.code, e.server_text)
                import time
                self.busy_waits += 1
                time.sleep(backoff_s(attempt, 1.0))
                attempt += 1
                i = 0
            except FetchError as e:
                # The same class (NotFound, TimedOut, TooLarge...), with the URL.
                if self.tried and len(addrs) > 1 and not isinstance(e, NotFound):
                    raise type(e)("%s (before: %s)" % (e, ", ".join(self.tried[-len(addrs) + 1:])),
                                  url, e.code, e.server_text)
                raise type(e)(str(e), url, e.code, e.server_text)
            except OSError as e:
                raise FetchError(str(e), url)
        self.last = rx
        return rx

    def _socket_factory(self, addr):
        import socket
        v6 = is_v6_addr(addr)

        def factory():
            s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.setsockopt(SOL_SOCKET, SO_RCVBUF, RCVBUF)  # capped by net.core.rmem_max
            except (OSError, AttributeError):
                pass
            # An ICMP refusal of the request is reported, not waited out.
            recv_errors(s, v6, True)
            return s
        return factory

    def read(self, url, limit=1 << 20):
        sink = MemorySink()
        self._run(url, sink, limit, None)
        return sink.getvalue()

    def fetch(self, url, dest, progress=None):
        max_size = self.space_for(dest) if self.space_for else None
        with open(dest, "wb") as f:
            sink = BatchingSink(f)
            rx = self._run(url, sink, max_size, progress)
            sink.flush()
        return rx.size
