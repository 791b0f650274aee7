"""agent.verify's check on CPython (workstations, tests): openssl(1).

Not frozen into the image (agent/manifest.py leaves it out): there the
check is packager/cmod/sigcheck on the interpreter's mbedtls. The checks and
their order are that module's: the signature parses and is detached,
without signed attributes, SHA-256; the signer chains to a root (any of
them, -partial_chain: mbedtls trusts every certificate it is given as a
root, not only self-signed ones); the signer names id-kp-codeSigning in an
extended key usage extension; the signature verifies over the file. The
signer is checked with -purpose any and its extended key usage read
separately: OpenSSL 3.0 has no code-signing purpose, and -purpose smimesign
(cms -verify's default) refuses a code-signing-only certificate. The roots
are also given as -certfile: a signature that carries no certificates (the
kernel's appended ones) names a root as its signer.
"""

import os
import shutil
import subprocess
import tempfile

# agent.verify's reason codes (the numbers packager/cmod/sigcheck returns);
# not imported from there: agent.compat imports this module, and agent.verify
# imports agent.compat. tests/test_signing.py checks they agree.
OK, BAD_SIGNATURE, UNKNOWN_SIGNER, NO_CODE_SIGNING, EXPIRED, NOT_YET_VALID, MALFORMED, DIGEST, NO_ROOTS = \
    0, 2, 3, 4, 5, 6, 7, 9, 10

# openssl cms -verify's error text -> reason code, first match wins.
OPENSSL_REASONS = (
    ("certificate has expired", EXPIRED),
    ("certificate is not yet valid", NOT_YET_VALID),
    ("unable to get local issuer certificate", UNKNOWN_SIGNER),
    ("self-signed certificate", UNKNOWN_SIGNER),
    ("self signed certificate", UNKNOWN_SIGNER),
    ("unable to get issuer certificate", UNKNOWN_SIGNER),
    ("signer certificate not found", UNKNOWN_SIGNER),
    ("content verify error", BAD_SIGNATURE),
    ("verification failure", BAD_SIGNATURE),
    ("digest failure", BAD_SIGNATURE),
)


def run_openssl(args):
    """(exit status, stdout, stderr) of openssl(1) with args; OSError when it is missing."""
    exe = shutil.which("openssl")
    if exe is None:
        raise OSError("openssl not found: install it (Debian: apt-get install openssl)")
    p = subprocess.run([exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def structure(sig_path):
    """A reason code from the signature's own structure (openssl cms -cmsout
    -print), or None when it is one mbedtls's pkcs7.c accepts too: a
    SignedData, detached (eContent absent), SHA-256, no signed attributes."""
    rc, out, err = run_openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", sig_path])
    if rc != 0 or "contentType: pkcs7-signedData" not in out:
        return MALFORMED
    lines = [line.strip() for line in out.splitlines()]
    if "eContent:" in lines:  # the file inside the signature, not detached
        return MALFORMED
    if any(a == "signedAttrs:" and b != "<ABSENT>" for a, b in zip(lines, lines[1:])):
        return MALFORMED
    digests = out.split("digestAlgorithms:", 1)[-1].split("encapContentInfo:", 1)[0]
    if "algorithm: sha256 " not in digests:
        return DIGEST
    return None


def verify(sig, digest, roots, path=None, data=None):
    tmp = tempfile.mkdtemp(prefix="s390-netboot-sig-")
    try:
        sig_path = os.path.join(tmp, "file.sig")
        roots_path = os.path.join(tmp, "roots.pem")
        signer_path = os.path.join(tmp, "signer.pem")
        with open(sig_path, "wb") as f:
            f.write(sig)
        with open(roots_path, "wb") as f:
            f.write(roots)
        if path is None:
            path = os.path.join(tmp, "file")
            with open(path, "wb") as f:
                f.write(data)
        code = structure(sig_path)
        if code is not None:
            return code
        rc, out, err = run_openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", sig_path, "-content", path,
                                 "-CAfile", roots_path, "-partial_chain", "-purpose", "any",
                                 "-certfile", roots_path,
                                 "-signer", signer_path, "-out", os.devnull])
        if rc != 0:
            text = err.lower()
            for needle, code in OPENSSL_REASONS:
                if needle in text:
                    return code
            if "no certificate" in text or "error loading file" in text:
                return NO_ROOTS
            return MALFORMED
        rc, out, err = run_openssl(["x509", "-in", signer_path, "-noout", "-ext", "extendedKeyUsage"])
        if rc != 0 or "Code Signing" not in out:
            return NO_CODE_SIGNING
        return OK
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
