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

import os
import subprocess

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
