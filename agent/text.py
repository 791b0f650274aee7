"""Text from configs and servers made safe to show, and PEM blocks: one
definition for the console, plan, lint and the packager.

Config text is read with one rule on CPython and MicroPython (decode): UTF-8
as CPython's strict codec takes it, else Latin-1, one character per byte.
Keywords are compared after ascii_lower, as Syslinux compares bytes: no
Unicode case mapping (U+212A KELVIN SIGN is no 'k').

A character is shown as it is when it is printable: not a C0 control, not
DEL, not a C1 control (0x80-0x9f). Anything else (terminal escapes, CR, LF,
NUL) is shown as '?' on the boot console and as \\xNN in the workstation's
output, which shows what is really there.
"""

from agent.compat import MICROPYTHON, latin1

TEXT_LIMIT = 160     # characters of server-provided text shown on the console


def _printable(c):
    o = ord(c)
    return 32 <= o < 127 or o > 159


def sanitise(text, limit=None, keep="", mark="?", ascii_only=False):
    """text with every character that is not printable (those in keep
    excepted) replaced by mark, or written as \\xNN when mark is None;
    bytes are taken one character per byte. Cut to limit characters
    (then '...' follows) when limit is given."""
    if isinstance(text, (bytes, bytearray)):
        text = latin1(bytes(text if limit is None else text[:limit + 1]))
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[:limit]
    out = []
    for c in text:
        if (_printable(c) and not (ascii_only and ord(c) > 126)) or c in keep:
            out.append(c)
        elif mark is None:
            o = ord(c)
            out.append("\\x%02x" % o if o < 256 else "\\u%04x" % o)
        else:
            out.append(mark)
    return "".join(out) + ("..." if cut else "")


def clean_text(text, limit=TEXT_LIMIT, keep=""):
    """Server or config text for a console line: controls as '?', cut to limit."""
    return sanitise(text, limit, keep)


def escaped(text):
    """Text for the workstation's output: controls as \\xNN, one terminal line."""
    return sanitise(text, None, "", None)


def value_text(value, limit=60):
    """A protocol value (a DHCP option) quoted for a console line: printable
    ASCII, anything else '?', cut to limit."""
    return repr(sanitise(value, limit, "", "?", True))


PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
PEM_END = "-----END CERTIFICATE-----"


def pem_blocks(text):
    """The PEM certificate blocks of a bundle, each ending in a newline;
    comments and anything else between them dropped, a block cut before its
    END dropped (the next block is whole)."""
    out = []
    pos = 0
    while True:
        i = text.find(PEM_BEGIN, pos)
        if i < 0:
            return out
        j = text.find(PEM_END, i)
        if j < 0:
            return out
        k = text.rfind(PEM_BEGIN, i, j)
        if k > i:
            i = k
        out.append(text[i:j + len(PEM_END)] + "\n")
        pos = j + len(PEM_END)


# Lead bytes of sequences that MicroPython's decode takes (it checks only the
# lead/continuation structure) and CPython's strict UTF-8 refuses: overlong
# forms, UTF-16 surrogates, code points past U+10FFFF; with the range of the
# second byte that makes each invalid (RFC 3629 section 4).
_NOT_STRICT = ((b"\xc0", 0x80, 0xbf), (b"\xc1", 0x80, 0xbf), (b"\xe0", 0x80, 0x9f), (b"\xed", 0xa0, 0xbf),
               (b"\xf0", 0x80, 0x8f), (b"\xf4", 0x90, 0xbf), (b"\xf5", 0x80, 0xbf), (b"\xf6", 0x80, 0xbf),
               (b"\xf7", 0x80, 0xbf))


def _strict_utf8(data):
    """Whether bytes MicroPython decoded as UTF-8 are also strict UTF-8: a scan
    for the few lead bytes that can start a sequence CPython refuses (in
    well-formed UTF-8 a byte >= 0xc0 is always a lead byte)."""
    for lead, lo, hi in _NOT_STRICT:
        i = data.find(lead)
        while i >= 0:
            if i + 1 < len(data) and lo <= data[i + 1] <= hi:
                return False
            i = data.find(lead, i + 1)
    return True


def decode(data):
    """Config bytes as text, the same on CPython and MicroPython: UTF-8 if the
    bytes are strict UTF-8, else Latin-1 (each byte one character, so no byte
    is fatal and every name survives)."""
    if isinstance(data, str):
        return data
    try:
        text = data.decode("utf-8")
    except UnicodeError:
        return latin1(data)
    if MICROPYTHON and len(text) != len(data) and not _strict_utf8(data):
        return latin1(data)
    return text


def ascii_lower(text):
    """text with A-Z lowered and nothing else changed: how Syslinux compares
    keywords (strncasecmp on bytes). CPython's lower() maps U+212A KELVIN
    SIGN to 'k' and U+0130 to two characters; MicroPython's maps only ASCII."""
    for c in text:
        if c >= "\x80":
            return "".join([ch.lower() if ch < "\x80" else ch for ch in text])
    return text.lower()

