"""Hostile TFTP and HTTP servers on loopback (issue #12): each misbehaves in
one named way, forever, until stopped. Used by tests/hostile/test_hostile.py against
the CPython agent and the frozen s390x MicroPython agent.

TFTP modes (every read request gets the same treatment):
  silent    never answers
  repeat1   sends block 1 every INTERVAL, forever
  oack      sends the same OACK every INTERVAL, never a block
  future    sends block 1, then block 5 every INTERVAL
  junk      sends block 1, then junk from another port every INTERVAL
  drip      sends blocks 1, 2, 3... one every INTERVAL, never the last
  error     answers ERROR (code, text)
  files     serves the files given (lock-step, RFC 1350, no options) and
            answers ERROR (code, text) for any other name

HTTP modes (every connection):
  silent          reads the request, never answers
  drip_headers    a status line, then one header line every INTERVAL
  drip_line       a status line, then one header byte every INTERVAL
  endless_headers header lines as fast as the client reads them
  long_line       one header line that never ends
  drip_body       headers announcing 1 MB, then one byte every INTERVAL
  raw             the given bytes, then close (1xx, bad lengths, encodings,
                  redirects)
"""

import socket
import struct
import threading
import time

INTERVAL = 0.3
BLOCK = 512


class _Server:
    def __init__(self):
        self.stop_event = threading.Event()
        self.threads = []
        self.connections = 0

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(5)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _data(block, payload):
    return struct.pack(">HH", 3, block & 0xFFFF) + payload


class Tftp(_Server):
    def __init__(self, mode, error=(0, "go away"), files=None, interval=INTERVAL, host="127.0.0.1", port=0):
        _Server.__init__(self)
        self.mode = mode
        self.error = error
        self.files = files or {}
        self.busy = 2
        self.interval = interval
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self._spawn(self._listen)

    def url(self, name="f"):
        return "tftp://%s:%d/%s" % (self.host, self.port, name)

    def _listen(self):
        while not self.stop_event.is_set():
            try:
                pkt, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if pkt[:2] != b"\x00\x01":
                continue
            name = pkt[2:].split(b"\0")[0].decode("latin-1")
            self.requests.append(name)
            self._spawn(self._session, addr, name)

    def _session(self, client, name):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.host, 0))
        s.settimeout(0.02)
        other = None
        try:
            mode = self.mode
            if mode == "busy":
                # ERROR 0 "Server busy" to the first `busy` requests, then the files.
                if self.busy > 0:
                    self.busy -= 1
                    s.sendto(struct.pack(">HH", 5, 0) + b"Server busy, try again later\0", client)
                    return
                mode = "files"
            if mode == "files":
                if name in self.files:
                    return self._serve(s, client, self.files[name])
                mode = "error"
            if mode == "silent":
                return
            if mode == "error":
                code, text = self.error
                msg = text.encode("latin-1") if isinstance(text, str) else text
                s.sendto(struct.pack(">HH", 5, code) + msg + b"\0", client)
                return
            if mode in ("future", "junk"):
                s.sendto(_data(1, b"a" * BLOCK), client)
            if mode == "junk":
                other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                other.bind((self.host, 0))
            block = 0
            end = time.time() + 120
            while not self.stop_event.is_set() and time.time() < end:
                if mode == "repeat1":
                    s.sendto(_data(1, b"a" * BLOCK), client)
                elif mode == "oack":
                    s.sendto(b"\x00\x06blksize\x00512\x00", client)
                elif mode == "future":
                    s.sendto(_data(5, b"e" * BLOCK), client)
                elif mode == "junk":
                    other.sendto(_data(2, b"j" * BLOCK), client)
                elif mode == "drip":
                    block += 1
                    s.sendto(_data(block, b"d" * BLOCK), client)
                self._drain(s, self.interval)
        finally:
            s.close()
            if other is not None:
                other.close()

    def _drain(self, s, seconds):
        end = time.time() + seconds
        while time.time() < end and not self.stop_event.is_set():
            try:
                s.recvfrom(2048)
            except socket.timeout:
                pass
            except OSError:
                return

    def _serve(self, s, client, data):
        block = 1
        s.settimeout(1.0)
        while not self.stop_event.is_set():
            chunk = data[(block - 1) * BLOCK:block * BLOCK]
            for _ in range(5):
                s.sendto(_data(block, chunk), client)
                try:
                    pkt, _ = s.recvfrom(100)
                except socket.timeout:
                    continue
                if pkt[:2] == b"\x00\x04" and struct.unpack(">H", pkt[2:4])[0] == block & 0xFFFF:
                    break
            else:
                return
            if len(chunk) < BLOCK:
                return
            block += 1


class Http(_Server):
    def __init__(self, mode, raw=b"", interval=INTERVAL):
        _Server.__init__(self)
        self.mode = mode
        self.raw = raw
        self.interval = interval
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self._spawn(self._listen)

    def url(self, path="/f"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def _listen(self):
        while not self.stop_event.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            self._spawn(self._session, conn)

    def _session(self, conn):
        conn.settimeout(5)
        try:
            req = b""
            while b"\r\n\r\n" not in req:
                more = conn.recv(4096)
                if not more:
                    return
                req += more
            self.requests.append(req.decode("latin-1"))
            self._answer(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def _answer(self, conn):
        mode = self.mode
        end = time.time() + 120
        if mode == "raw":
            conn.sendall(self.raw)
            return
        if mode == "silent":
            self.stop_event.wait(120)
            return
        if mode in ("drip_headers", "drip_line", "endless_headers", "long_line"):
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
        if mode == "drip_line":
            conn.sendall(b"X-Slow: ")
        if mode == "drip_body":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        n = 0
        while not self.stop_event.is_set() and time.time() < end:
            n += 1
            if mode == "drip_headers":
                conn.sendall(b"X-Line-%d: 1\r\n" % n)
            elif mode in ("drip_line", "drip_body"):
                conn.sendall(b"z")
            elif mode == "endless_headers":
                conn.sendall(b"".join(b"X-Header-%d: %s\r\n" % (n * 100 + i, b"v" * 50) for i in range(100)))
                continue
            elif mode == "long_line":
                conn.sendall(b"X-Long: " + b"a" * 65536)
                continue
            self.stop_event.wait(self.interval)


class SynDropper:
    """A listening socket whose accept queue is full: the kernel drops further
    SYNs, so a connect() to it hangs like one to a host that drops them."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)
        time.sleep(0.2)

    def url(self, path="/f"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for c in self.fillers:
            c.close()
        self.sock.close()


if __name__ == "__main__":
    # python3 tests/support/hostile.py tftp MODE HOST PORT: serve until killed (QEMU scenarios).
    import sys
    kind, mode, host, port = sys.argv[1:5]
    assert kind == "tftp", kind
    srv = Tftp(mode, host=host, port=int(port))
    print("hostile tftp %s on %s:%d" % (mode, host, srv.port), flush=True)
    while True:
        time.sleep(3600)
