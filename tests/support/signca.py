"""A code-signing PKI made with openssl(1), for the signed-boot tests.

Certificates (ECDSA P-256 and one RSA-2048, as a site would make them):
  root.pem          the site's code-signing root (what the image trusts)
  inter.pem         an intermediate CA under root
  signer.pem        code-signing certificate (extendedKeyUsage=codeSigning) under inter
  rsa-signer.pem    the same under root directly, RSA-2048
  no-eku.pem        under inter, no extended key usage at all
  server.pem        under inter, extendedKeyUsage=serverAuth only
  expired.pem       code signing under inter, valid 2020-2021 (openssl ca -startdate/-enddate)
  future.pem        code signing under inter, valid from 2090
  other-root.pem    another root; other-signer.pem signs code under it
  kernel-key.pem    self-signed code-signing certificate, as the kernel's build
                    makes for sign-file (roots.pem: root.pem and it)
Each X.pem has X.key; chain.pem is inter.pem (what -certfile adds).
"""

import hashlib
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CA_CONF = """[ca]
default_ca = d
[d]
database = %(dir)s/index.txt
new_certs_dir = %(dir)s/newcerts
serial = %(dir)s/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
"""

CODE = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n"
CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"


def openssl(args, cwd, stdin=None):
    p = subprocess.run(["openssl"] + args, cwd=cwd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
    return p.stdout


def _key(name, cwd, rsa=False):
    if rsa:
        openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", name + ".key"], cwd)
    else:
        openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key"], cwd)


def _root(name, cwd):
    _key(name, cwd)
    openssl(["req", "-x509", "-new", "-key", name + ".key", "-out", name + ".pem", "-subj",
             "/CN=s390-netboot test " + name, "-days", "3650", "-sha256",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], cwd)


def _issue(name, ca, ext, cwd, rsa=False, start=None, end=None):
    _key(name, cwd, rsa)
    openssl(["req", "-new", "-key", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name], cwd)
    with open(os.path.join(cwd, name + ".ext"), "w") as f:
        f.write(ext)
    args = ["ca", "-batch", "-config", "ca.conf", "-in", name + ".csr", "-out", name + ".pem", "-notext",
            "-cert", ca + ".pem", "-keyfile", ca + ".key", "-extfile", name + ".ext"]
    if start:
        args += ["-startdate", start, "-enddate", end]
    else:
        args += ["-days", "3650"]
    openssl(args, cwd)


def make_pki(d):
    """Every certificate above under directory d; returns d."""
    os.makedirs(os.path.join(d, "newcerts"), exist_ok=True)
    with open(os.path.join(d, "ca.conf"), "w") as f:
        f.write(CA_CONF % {"dir": d})
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    _root("root", d)
    _root("other-root", d)
    _issue("inter", "root", CA_EXT, d)
    _issue("signer", "inter", CODE, d)
    _issue("rsa-signer", "root", CODE, d, rsa=True)
    _issue("no-eku", "inter", "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n", d)
    _issue("server", "inter", "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n", d)
    _issue("expired", "inter", CODE, d, start="20200101000000Z", end="20210101000000Z")
    _issue("future", "inter", CODE, d, start="20900101000000Z", end="20910101000000Z")
    _issue("other-signer", "other-root", CODE, d)
    _key("kernel-key", d)
    openssl(["req", "-x509", "-new", "-key", "kernel-key.key", "-out", "kernel-key.pem", "-subj", "/CN=kernel-key",
             "-days", "3650", "-sha256", "-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "keyUsage=critical,digitalSignature", "-addext", "extendedKeyUsage=codeSigning"], d)
    with open(os.path.join(d, "inter.pem"), "rb") as f, open(os.path.join(d, "chain.pem"), "wb") as out:
        out.write(f.read())
    with open(os.path.join(d, "roots.pem"), "wb") as out:
        for name in ("root.pem", "kernel-key.pem"):
            with open(os.path.join(d, name), "rb") as f:
                out.write(f.read())
    return d


def append_signature(pki, signer, path):
    """Sign path in place the way the kernel's scripts/sign-file does: a
    PKCS #7 without certificates or signed attributes, struct
    module_signature (id_type 2, sig_len big-endian) and the magic appended."""
    import struct
    p7 = path + ".p7s"
    openssl(["cms", "-sign", "-binary", "-noattr", "-nocerts", "-md", "sha256", "-in", path,
             "-signer", os.path.join(pki, signer + ".pem"), "-inkey", os.path.join(pki, signer + ".key"),
             "-outform", "DER", "-out", p7], pki)
    with open(p7, "rb") as f:
        sig = f.read()
    os.remove(p7)
    with open(path, "ab") as f:
        f.write(sig + struct.pack(">BBBBB3xI", 0, 0, 2, 0, 0, len(sig)) + b"~Module signature appended~\n")


def cms_sign(pki, signer, path, out=None, chain=True, extra=()):
    """NAME.sig for path made exactly as iPXE documents (openssl cms -sign
    -binary -noattr ... -outform DER); returns the .sig's path."""
    out = out or path + ".sig"
    args = ["cms", "-sign", "-binary", "-noattr", "-in", path, "-signer", os.path.join(pki, signer + ".pem"),
            "-inkey", os.path.join(pki, signer + ".key"), "-outform", "DER", "-out", out]
    if chain:
        args += ["-certfile", os.path.join(pki, "chain.pem")]
    openssl(args + list(extra), pki)
    return out


# The refusal table the signed-boot tests share (tests/workstation,
# tests/micropython): each NAME in a tree with its NAME.sig made as said.
from agent import verify  # noqa: E402

PAYLOAD = b"".join(b"kernel %d\n" % i for i in range(20000))    # about 200 KB

# (name, how its NAME.sig is made, the reason code wanted)
CASES = [
    ("good-cms", "cms signer", verify.OK),
    ("good-sign", "s390-netboot sign signer", verify.OK),
    ("good-rsa", "cms rsa-signer nochain", verify.OK),
    ("no-intermediate", "cms signer nochain", verify.UNKNOWN_SIGNER),
    ("other-file", "sig of another file", verify.BAD_SIGNATURE),
    ("changed", "file changed after signing", verify.BAD_SIGNATURE),
    ("no-eku", "cms no-eku", verify.NO_CODE_SIGNING),
    ("server-eku", "cms server", verify.NO_CODE_SIGNING),
    ("other-root", "cms other-signer", verify.UNKNOWN_SIGNER),
    ("expired", "cms expired", verify.EXPIRED),
    ("future", "cms future", verify.NOT_YET_VALID),
    ("attrs", "signed attributes (no -noattr)", verify.MALFORMED),
    ("attached", "-nodetach: the file inside", verify.MALFORMED),
    ("sha512", "-md sha512", verify.DIGEST),
    ("empty", "0-byte .sig", verify.MALFORMED),
    ("garbage", "random bytes", verify.MALFORMED),
    ("truncated", "first half of a good .sig", verify.MALFORMED),
    ("huge", "10 MB .sig", verify.TOO_LARGE),
    ("missing", "no .sig", verify.MISSING),
    ("appended", "kernel's appended signature by a root", verify.OK),
    ("appended-changed", "appended signature, a byte changed", verify.BAD_SIGNATURE),
    ("appended-unknown", "appended signature by a signer not among the roots", verify.UNKNOWN_SIGNER),
    ("appended-no-eku", "appended signature by a root without code signing", verify.NO_CODE_SIGNING),
    ("appended-cut", "appended trailer with a sig_len beyond the file", verify.MALFORMED),
]


def build_tree(pki, tree):
    os.makedirs(tree, exist_ok=True)
    for name, how, _ in CASES:
        path = os.path.join(tree, name)
        with open(path, "wb") as f:
            # An attached signature holds the file: a small one, to get past the size bound.
            f.write((PAYLOAD[:1000] if name == "attached" else PAYLOAD) + name.encode())
        sig = path + ".sig"
        words = how.split()
        if words[0] == "cms":
            cms_sign(pki, words[1], path, chain="nochain" not in words)
        elif how.startswith("s390-netboot sign"):
            p = run_workstation(["sign", "--cert", os.path.join(pki, "signer.pem"), "--key",
                                 os.path.join(pki, "signer.key"), "--chain", os.path.join(pki, "chain.pem"), path])
            assert p.returncode == 0 and p.stdout.startswith("signed %s -> %s.sig" % (path, path)), p.stdout + p.stderr
        elif name == "other-file":
            other = os.path.join(pki, "other-file")
            with open(other, "wb") as f:
                f.write(b"another file\n")
            cms_sign(pki, "signer", other, out=sig)
        elif name == "changed":
            cms_sign(pki, "signer", path)
            with open(path, "r+b") as f:
                f.seek(1000)
                f.write(b"X")
        elif name == "attrs":
            openssl(["cms", "-sign", "-binary", "-in", path, "-signer", "signer.pem", "-inkey", "signer.key",
                            "-certfile", "chain.pem", "-outform", "DER", "-out", sig], pki)
        elif name == "attached":
            cms_sign(pki, "signer", path, extra=["-nodetach"])
        elif name == "sha512":
            cms_sign(pki, "signer", path, extra=["-md", "sha512"])
        elif name == "empty":
            open(sig, "wb").close()
        elif name == "garbage":
            with open(sig, "wb") as f:
                f.write(hashlib.sha256(b"seed").digest() * 64)
        elif name == "truncated":
            cms_sign(pki, "signer", path)
            with open(sig, "rb") as f:
                data = f.read()
            with open(sig, "wb") as f:
                f.write(data[:len(data) // 2])
        elif name == "huge":
            good = cms_sign(pki, "signer", path)
            with open(good, "ab") as f:
                f.write(b"\0" * (10 << 20))
        elif name == "missing":
            pass
        elif name == "appended":
            append_signature(pki, "kernel-key", path)
        elif name == "appended-changed":
            append_signature(pki, "kernel-key", path)
            with open(path, "r+b") as f:
                f.write(b"X")
        elif name == "appended-unknown":
            append_signature(pki, "signer", path)
        elif name == "appended-no-eku":
            append_signature(pki, "root", path)
        elif name == "appended-cut":
            append_signature(pki, "kernel-key", path)
            with open(path, "r+b") as f:
                f.seek(-40, 2)
                f.write(b"\0\0\2\0\0\0\0\0\x7f\xff\xff\xff")
        else:
            raise AssertionError("no recipe for %s" % name)
    return tree


def run_workstation(argv):
    return subprocess.run([sys.executable, "-m", "workstation"] + argv, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)


DRIVER = r"""
import sys
from agent import verify
from agent.fetch import LocalFetcher
tree, roots, out = sys.argv[-3:]
f = verify.VerifyingFetcher(LocalFetcher(tree), verify.load_roots(roots))
for name in %r:
    try:
        f.fetch("tftp://server/" + name, out)
        code = verify.OK
    except verify.Unsigned as e:
        code = e.reason
    print(name, verify.NAMES[code])
"""


def want_lines():
    return ["%s %s" % (name, verify.NAMES[code]) for name, _, code in CASES]


def check_lines(lines):
    got = dict(line.split(" ", 1) for line in lines if " " in line)
    bad = ["%s: %s, want %s" % (name, got.get(name), verify.NAMES[code])
           for name, _, code in CASES if got.get(name) != verify.NAMES[code]]
    assert not bad, "; ".join(bad)


def signed_tree(pki, d):
    """A pxelinux tree with every file signed, for plan --sign-ca."""
    cfg = os.path.join(d, "pxelinux.cfg")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "default"), "w") as f:
        f.write("DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n INITRD initrd.img\n APPEND console=ttysclp0\n")
    from tests.workstation.test_lint import fake_kernel
    for name, data in (("vmlinuz", fake_kernel()), ("initrd.img", b"\x1f\x8b" + b"I" * 7000)):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    for rel in ("pxelinux.cfg/default", "vmlinuz", "initrd.img"):
        cms_sign(pki, "signer", os.path.join(d, rel))
    return d


def mpy_lines(cmd, tree, pki, tmp_path):
    names = [n for n, _, _ in CASES]
    script = DRIVER % (names,)
    proc = subprocess.run(cmd + ["-c", script, tree, os.path.join(pki, "roots.pem"), os.path.join(str(tmp_path), "out")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout.splitlines()
