"""`s390-netboot sign --cert C --key K [--chain FILE] FILE...`: FILE.sig for each FILE.

The signature is iPXE's format, made by openssl(1) exactly as iPXE documents:

    openssl cms -sign -binary -noattr -md sha256 -in FILE -signer C -inkey K \\
        [-certfile CHAIN] -outform DER -out FILE.sig

(a detached DER CMS SignedData without signed attributes; agent/verify.py
checks it). openssl is the maintained implementation here: the workstation
command needs nothing beyond the standard library, and the Python
`cryptography` package would add a compiled dependency for the same bytes.

Each .sig is written to a temporary name and renamed when whole: a failure
leaves no half-written FILE.sig (and an older one as it was). Before any
signing the certificate is checked to carry the code-signing extended key
usage (the agent refuses a signature without it).
"""

import os

from agent.sig_openssl import run_openssl
from agent.verify import SIG_SUFFIX


class SignError(Exception):
    """One line: what is wrong and what to do."""


def _openssl(args):
    try:
        return run_openssl(args)
    except OSError as e:
        raise SignError(str(e))


def _first_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def check_inputs(cert, key, chain, files):
    for path, what in ((cert, "--cert"), (key, "--key"), (chain, "--chain")):
        if path is not None and not os.path.isfile(path):
            raise SignError("%s %s: no such file" % (what, path))
    rc, out, err = _openssl(["x509", "-in", cert, "-noout", "-ext", "extendedKeyUsage"])
    if rc != 0:
        raise SignError("--cert %s is not a PEM certificate (%s)" % (cert, _first_line(err)))
    if "Code Signing" not in out:
        raise SignError("--cert %s has no code-signing extended key usage: the agent refuses its signatures; "
                        "issue it with extendedKeyUsage=codeSigning" % cert)
    if not files:
        raise SignError("nothing to sign: give one or more FILEs")
    for f in files:
        if not os.path.isfile(f):
            raise SignError("%s: no such file" % f)
        if f.endswith(SIG_SUFFIX):
            raise SignError("%s is a signature itself: sign the file it belongs to" % f)


def sign_file(cert, key, chain, path):
    """Write path + '.sig'; returns its path."""
    out = path + SIG_SUFFIX
    tmp = "%s.tmp%d" % (out, os.getpid())
    args = ["cms", "-sign", "-binary", "-noattr", "-md", "sha256", "-in", path, "-signer", cert, "-inkey", key,
            "-outform", "DER", "-out", tmp]
    if chain:
        args += ["-certfile", chain]
    try:
        rc, _, err = _openssl(args)
        if rc != 0:
            raise SignError("signing %s failed: openssl cms -sign: %s" % (path, _first_line(err)))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return out


def run(cert, key, chain, files, say=print):
    check_inputs(cert, key, chain, files)
    for f in files:
        say("signed %s -> %s" % (f, sign_file(cert, key, chain, f)))
    return 0
