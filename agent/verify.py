"""Signed boot: every file used only with a valid detached signature beside it.

The format is iPXE's (imgtrust/imgverify, "Code signing" in its docs):
NAME.sig, on the same server and scheme as NAME, holds a CMS/PKCS #7
SignedData in DER, detached (the file is not inside), without signed
attributes, with SHA-256, as

    openssl cms -sign -binary -noattr -in NAME -signer CERT -inkey KEY \\
        [-certfile CA] -outform DER -out NAME.sig

writes (and ``s390-netboot sign``). The signer's certificate must chain
(through the certificates the signature carries) to a root built into the
image (ROOTS_FILE, ``packager build --sign-ca``), be valid at the guest's
clock and name the code-signing extended key usage. The roots are a trust
store of their own, apart from the HTTPS one.

VerifyingFetcher wraps the fetcher: a config is read, then its .sig, and the
bytes read are checked; a kernel or initrd is fetched to its file, then its
.sig, and the file as it lies on disk is hashed and checked (what kexec is
given is what was checked: nothing writes the agent's files between this
check and kexec, and every attempt fetches and checks anew). A refusal
removes the file and raises Unsigned, one line naming the file and the
reason.

A kernel (or any fetched file) without NAME.sig is also taken on the
kernel's own appended signature, the format of the kernel's
scripts/sign-file and of zipl --secure: the file, a PKCS #7 SignedData
(detached, no signed attributes, no certificates), struct module_signature
(12 bytes; id_type 2 = PKCS #7, sig_len big-endian at offset 8) and the
magic "~Module signature appended~\n". The signature covers the bytes
before it; its signer, carried in no certificate, must be one of the roots
(put the signing certificate itself into packager build --sign-ca), with
the code-signing usage. The whole file (trailer included, which the kernel
ignores) is what kexec is given.

The check itself is compat.sig_check: the image's mbedtls on MicroPython
(packager/cmod/sigcheck), openssl(1) on CPython (agent/sig_openssl.py).
"""

import hashlib
import struct

from agent.compat import SIG_CHECK_NEEDS_DATA, sig_check
from agent.fetch import NotFound, Refused, TooLarge
from agent.text import clean_text

ROOTS_FILE = "/etc/s390-netboot/sign-ca.pem"
APPENDED_MAGIC = b"~Module signature appended~\n"   # include/linux/module_signature.h
MODULE_SIG_SIZE = 12                                 # struct module_signature
PKEY_ID_PKCS7 = 2
SIG_SUFFIX = ".sig"
SIG_LIMIT = 64 * 1024      # bytes of a .sig read at most (a signer and two CAs take about 3 KiB)

# Reason codes: packager/cmod/sigcheck/sigcheck.c returns the same numbers.
OK = 0
MISSING = 1
BAD_SIGNATURE = 2
UNKNOWN_SIGNER = 3
NO_CODE_SIGNING = 4
EXPIRED = 5
NOT_YET_VALID = 6
MALFORMED = 7
TOO_LARGE = 8
DIGEST = 9
NO_ROOTS = 10
NO_MEMORY = 11

REASONS = {
    MISSING: "missing signature",
    BAD_SIGNATURE: "bad signature (the file is not the one signed)",
    UNKNOWN_SIGNER: "unknown signer (no chain to a root built into the image)",
    NO_CODE_SIGNING: "the signer's certificate has no code-signing usage",
    EXPIRED: "the signer's certificate (or its chain) has expired",
    NOT_YET_VALID: "the signer's certificate (or its chain) is not yet valid (is the clock right?)",
    MALFORMED: "truncated or malformed signature (not a DER CMS signature without signed attributes)",
    TOO_LARGE: "signature larger than %d bytes" % SIG_LIMIT,
    DIGEST: "signature not made with SHA-256",
    NO_ROOTS: "no usable signing root in the image",
    NO_MEMORY: "out of memory while checking",
}

# Short names for plan --json, lint and the tests.
NAMES = {
    OK: "ok", MISSING: "missing", BAD_SIGNATURE: "bad-signature", UNKNOWN_SIGNER: "unknown-signer",
    NO_CODE_SIGNING: "no-code-signing", EXPIRED: "expired", NOT_YET_VALID: "not-yet-valid",
    MALFORMED: "malformed", TOO_LARGE: "too-large", DIGEST: "digest", NO_ROOTS: "no-roots",
    NO_MEMORY: "no-memory",
}


class Unsigned(Refused):
    """A file refused for its signature ("URL: refused: REASON"): url, and
    reason, the reason code above (code stays FetchError's: the server's)."""


def unsigned(url, code):
    e = Unsigned("refused: %s" % reason(code, url), url=url)
    e.reason = code
    return e


def reason(code, url=""):
    """The console's words for a reason code (MISSING names the .sig)."""
    text = REASONS.get(code, "signature check failed (code %d)" % code)
    if code == MISSING and url:
        text += " (no %s)" % clean_text(url.rsplit("/", 1)[-1] + SIG_SUFFIX)
    return text


def file_sha256(path, length=None, buf=None):
    """SHA-256 of a file (of its first length bytes), read in 64 KiB pieces
    through one buffer."""
    h = hashlib.sha256()
    buf = buf or bytearray(65536)
    mv = memoryview(buf)
    left = length
    with open(path, "rb") as f:
        while left is None or left > 0:
            n = f.readinto(buf)
            if not n:
                break
            if left is not None:
                n = min(n, left)
                left -= n
            h.update(mv[:n])
    return h.digest()


def appended_signature(path):
    """(signed length, PKCS #7 bytes) of a file ending in the kernel's
    appended signature; None when it has none; MALFORMED (an int) when the
    trailer is there but unusable."""
    from agent.compat import os
    size = os.stat(path)[6]
    tail = MODULE_SIG_SIZE + len(APPENDED_MAGIC)
    if size < tail:
        return None
    with open(path, "rb") as f:
        f.seek(size - tail)
        trailer = f.read(tail)
        if trailer[MODULE_SIG_SIZE:] != APPENDED_MAGIC:
            return None
        sig_len = struct.unpack(">I", trailer[8:12])[0]
        if trailer[2] != PKEY_ID_PKCS7 or not 0 < sig_len <= min(SIG_LIMIT, size - tail):
            return MALFORMED
        f.seek(size - tail - sig_len)
        return size - tail - sig_len, f.read(sig_len)


def prefix_bytes(path, length):
    with open(path, "rb") as f:
        return f.read(length)


def check(sig, digest, roots, path=None, data=None):
    """The reason code for sig (the .sig's bytes) over a file whose SHA-256 is
    digest (its bytes data, or the file at path, for the CPython backend)."""
    if len(sig) > SIG_LIMIT:
        return TOO_LARGE
    if not sig:
        return MALFORMED
    try:
        return sig_check(sig, digest, roots, path, data)
    except MemoryError:
        return NO_MEMORY


def load_roots(path=ROOTS_FILE):
    """The PEM text of the signing roots (bytes); OSError when unreadable."""
    with open(path, "rb") as f:
        return f.read()


class VerifyingFetcher:
    """Passes a file on only with a valid signature at its URL + '.sig'."""

    def __init__(self, inner, roots):
        self.inner = inner
        self.roots = roots
        self.checked = []    # (url, reason code) of every file checked, for plan and lint

    def _signature(self, url):
        try:
            sig = self.inner.read(url + SIG_SUFFIX, SIG_LIMIT)
        except NotFound:
            raise self._refuse(url, MISSING)
        except TooLarge:
            raise self._refuse(url, TOO_LARGE)
        return sig

    def _refuse(self, url, code):
        self.checked.append((url, code))
        return unsigned(url, code)

    def read(self, url, limit=1 << 20):
        data = self.inner.read(url, limit)
        sig = self._signature(url)
        code = check(sig, hashlib.sha256(data).digest(), self.roots, data=data)
        if code != OK:
            raise self._refuse(url, code)
        self.checked.append((url, OK))
        return data

    def fetch(self, url, dest, progress=None):
        size = self.inner.fetch(url, dest, progress)
        try:
            try:
                sig = self._signature(url)
                code = check(sig, file_sha256(dest), self.roots, path=dest)
            except Unsigned as e:
                if e.reason != MISSING:
                    raise
                self.checked.pop()
                code = self._appended(url, dest)
        except BaseException:
            _remove(dest)
            raise
        if code != OK:
            _remove(dest)
            raise self._refuse(url, code)
        self.checked.append((url, OK))
        return size

    def _appended(self, url, dest):
        """The reason code of dest's appended signature (MISSING without one)."""
        found = appended_signature(dest)
        if found is None:
            return MISSING
        if found == MALFORMED:
            return MALFORMED
        length, sig = found
        data = prefix_bytes(dest, length) if SIG_CHECK_NEEDS_DATA else None
        return check(sig, file_sha256(dest, length), self.roots, data=data)


def _remove(path):
    from agent.compat import os
    try:
        os.remove(path)
    except OSError:
        pass
