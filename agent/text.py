"""Text from configs and servers made safe to show, and PEM blocks: one
definition for the console, plan, lint and the packager.

A character is shown as it is when it is printable: not a C0 control, not
DEL, not a C1 control (0x80-0x9f). Anything else (terminal escapes, CR, LF,
NUL) is shown as '?' on the boot console and as \\xNN in the workstation's
output, which shows what is really there.
"""

from agent.compat import latin1

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
