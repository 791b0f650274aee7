"""Transfers with figures: the console progress line and `python -m agent fetch`."""

import os

from agent.compat import now_ms, stderr_write
from agent.fetch import FetchError

MIB = 1048576.0
PROGRESS_MIN = 4 << 20   # files above this get a progress line


def human(n):
    if n >= 1 << 20:
        return "%.1f MiB" % (n / MIB)
    if n >= 1 << 10:
        return "%.1f KiB" % (n / 1024.0)
    return "%d B" % n


def rate(size, ms):
    return (size / MIB) / (max(ms, 1) / 1000.0)


def progress_line(size, total, ms):
    """'12.0 MiB of 40.0 MiB (30%) 9.8 MiB/s' -- one line, rewritten in place."""
    if total:
        return "%s of %s (%d%%) %.1f MiB/s" % (human(size), human(total), size * 100 // max(total, 1),
                                            rate(size, ms))
    return "%s %.1f MiB/s" % (human(size), rate(size, ms))


class Progress:
    """A progress callback printing to a console (CR-rewritten unless line mode)."""

    def __init__(self, write, name, line_mode=True):
        self.write = write
        self.name = name
        self.start = now_ms()
        self.line_mode = line_mode
        self.shown = False
        self.last_pct = -1

    def __call__(self, size, total):
        big = (total or size) >= PROGRESS_MIN
        if not big:
            return
        ms = now_ms() - self.start
        if self.line_mode:
            # Line-mode consoles (SCLP) cannot rewrite a line: print every 25%.
            pct = size * 100 // total if total else -1
            step = pct // 25 if pct >= 0 else (size >> 24)
            if step == self.last_pct:
                return
            self.last_pct = step
        self.shown = True
        self.write("  %s: %s%s" % (self.name, progress_line(size, total, ms),
                                  "\n" if self.line_mode else "\r"))


def size_cap(opts, out):
    """The most bytes `agent fetch` writes: --max-size N[K|M|G] when given, else
    the free space of the output's file system. ValueError for a bad value."""
    text = opts.get("max-size")
    if isinstance(text, str):
        mult = 1
        t = text.strip().upper()
        if t[-1:] in ("K", "M", "G"):
            mult = 1 << {"K": 10, "M": 20, "G": 30}[t[-1]]
            t = t[:-1]
        if not t.isdigit():
            raise ValueError("--max-size %s: want a number of bytes, e.g. 512M" % text)
        return int(t) * mult
    from agent.compat import dirname, os
    try:
        st = os.statvfs(dirname(out) or ".")
        return st[0] * st[4]
    except (OSError, AttributeError):
        return None


def partial_name(out):
    """Where fetch writes before the rename: FILE.part, or None when FILE is a
    device or a FIFO (/dev/null), which is written as it is."""
    try:
        if os.stat(out)[0] & 0o170000 != 0o100000:
            return None
    except OSError:
        pass
    return out + ".part"


def fetch_command(url, opts):
    """`python -m agent fetch URL -o FILE`: one transfer, then its figures."""
    import json
    out = opts.get("o") or opts.get("output")
    if not out:
        stderr_write("agent: fetch needs -o FILE\n")
        return 2
    try:
        fetcher = make_fetcher(url, opts)
        cap = size_cap(opts, out)
    except ValueError as e:
        stderr_write("agent: %s\n" % e)
        return 2
    fetcher.space_for = lambda dest: cap
    start = now_ms()
    progress = None if opts.get("quiet") or opts.get("json") else Progress(stderr_write, url, False)
    # Into FILE.part, renamed when whole: a failed or cut transfer leaves FILE
    # as it was (a 404 must not empty an existing file).
    part = partial_name(out)
    try:
        size = fetcher.fetch(url, part or out, progress)
        if part:
            os.rename(part, out)
    except (FetchError, OSError) as e:
        if part:
            try:
                os.remove(part)
            except OSError:
                pass
        from agent.cli import escaped
        stderr_write("fetch: %s\n" % escaped(str(e)))
        return 2
    ms = max(now_ms() - start, 1)
    if progress is not None and progress.shown:
        stderr_write("\n")  # end the progress line rewritten with CR
    result = {"url": url, "size": size, "seconds": ms / 1000.0, "mib_per_s": round(rate(size, ms), 2)}
    rx = getattr(fetcher, "last", None)
    if rx is not None:
        result["options"] = rx.options
        result["blksize"] = rx.blksize
        result["windowsize"] = rx.windowsize
        result["tsize"] = rx.tsize
        result["duplicates"] = rx.duplicates
        result["out_of_order"] = rx.out_of_order
        result["c_blocks"] = rx.c_blocks
    if opts.get("json"):
        print(json.dumps(result))
    else:
        if rx is not None:
            print("options:  %s" % (", ".join("%s=%s" % kv for kv in sorted(rx.options.items()))
                                   or "none (RFC 1350 defaults)"))
            print("blksize:  %d  windowsize: %d" % (rx.blksize, rx.windowsize))
        print("size:     %d bytes (%s)" % (size, human(size)))
        print("time:     %.3f s" % (ms / 1000.0))
        print("rate:     %.2f MiB/s" % rate(size, ms))
    return 0


def _number(opts, name, default, conv=int):
    if name not in opts:
        return default
    try:
        value = conv(opts[name])
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError("--%s %s: want a number" % (name, opts[name]))
    return value


def make_fetcher(url, opts):
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    timeout = _number(opts, "timeout", 0, float)
    if scheme == "tftp":
        from agent.tftp import TftpFetcher, DEFAULT_WINDOW
        f = TftpFetcher(blksize=_number(opts, "blksize", None),
                        windowsize=_number(opts, "windowsize", DEFAULT_WINDOW),
                        use_options=not opts.get("no-options"),
                        mtu_of=route_mtu)
        if timeout:
            f.total_timeout = timeout
        return f
    if scheme in ("http", "https"):
        from agent.cli import UsageError, http_fetcher
        try:
            return http_fetcher(opts, timeout=timeout or 10.0)
        except UsageError as e:
            raise ValueError(str(e))
    raise ValueError("%s: give a tftp://HOST[:PORT]/PATH, http://HOST[:PORT]/PATH or https://... URL "
                     "(an IPv6 host in brackets: tftp://[2001:db8::1]/PATH)" % url)


def route_mtu(addr):
    """The path MTU towards addr (Linux IP_MTU / IPV6_MTU on a connected UDP socket), or None."""
    import socket
    from agent.compat import IPPROTO_IPV6, is_v6_addr
    IP_MTU = 14
    IPV6_MTU = 24
    v6 = is_v6_addr(addr)
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(addr)
        if v6:
            return s.getsockopt(IPPROTO_IPV6, IPV6_MTU)
        return s.getsockopt(socket.IPPROTO_IP, IP_MTU)
    except (OSError, AttributeError):
        return None
    finally:
        s.close()
