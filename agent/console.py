"""The boot console: one line per event ("netboot: [uptime] ..."), the
config's own text, typed lines with a bounded wait, and progress lines for
big transfers. Every character from a config or a server goes through
agent.text first: no terminal escapes, no fake lines.
"""

import sys

from agent.compat import now_ms
from agent.text import clean_text

LINE_LIMIT = 4096          # characters of one console line (a longer one is cut, with '...')
POLL_SLICE_S = 86400       # the longest single poll() of the console


def uptime():
    try:
        with open("/proc/uptime") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


class Console:
    def __init__(self, debug=False):
        self.debug_on = debug

    def say(self, msg):
        """One line: what the agent says, with any control character from a
        config or a server shown as '?' (no terminal escapes, no fake lines)."""
        self.raw("netboot: [%7.2f] %s\n" % (uptime(), clean_text(msg, LINE_LIMIT)))

    def line(self, text):
        """A line of the config's own text (SAY, DISPLAY, the menu), cleaned the same way."""
        self.raw(clean_text(text, LINE_LIMIT, "\t") + "\n")

    def raw(self, text):
        try:
            sys.stdout.write(text)
            self.flush()
        except OSError:
            # No console (fd 1 closed: the kernel found none): the kernel log
            # still reaches whoever looks; PID 1 must not die of it.
            try:
                with open("/dev/kmsg", "w") as f:
                    f.write(text[:LINE_LIMIT])
            except OSError:
                pass

    def flush(self):
        try:
            sys.stdout.flush()
        except AttributeError:
            pass

    def error(self, msg):
        self.say("ERROR: " + msg)

    def debug(self, msg):
        if self.debug_on:
            self.say(msg)

    def wait_line(self, seconds):
        """A line typed within seconds (None: nothing typed; seconds<=0: wait forever)."""
        import select
        p = select.poll()
        p.register(0, select.POLLIN)
        # poll() takes a C int of milliseconds: wait in slices of a day at most
        # (a TIMEOUT of 2^31 tenths must neither overflow nor end early).
        left = seconds if seconds and seconds > 0 else None
        while True:
            ms = -1 if left is None else int(min(left, POLL_SLICE_S) * 1000)
            try:
                ready = p.poll(ms)
            except OSError:
                ready = []
                if left is None:
                    import time
                    time.sleep(POLL_SLICE_S)
            if ready:
                break
            if left is not None:
                left -= min(left, POLL_SLICE_S)
                if left <= 0:
                    return None
        try:
            line = sys.stdin.readline()
        except (OSError, UnicodeError):
            line = ""
        if not line:
            # End of input (no console attached): wait out the time, do not spin.
            import time
            time.sleep(seconds if seconds and seconds > 0 else 3600)
            return None
        return line.rstrip("\r\n")


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
