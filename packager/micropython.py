"""A static MicroPython (unix port) with the agent frozen in.

Source: Debian's ``micropython`` source package (apt-get source under the
private apt configuration of packager.debian), unpacked once. The build:

- mpy-cross with the host's C compiler;
- the unix port, VARIANT=standard, with the agent's manifest as
  FROZEN_MANIFEST and the features that need libraries a static build lacks
  (ffi, btree) turned off, linked statically;
- the ``ssl``/``tls`` module on mbedtls from Debian's ``mbedtls`` source
  package (trixie's 3.6, the series MicroPython 1.25's extmod.mk lists files
  of), unpacked into the MicroPython source's empty lib/mbedtls; the
  configuration is the unix port's plus MBEDTLS_CONFIG below (TLS 1.2 client,
  SNI, hostname and validity-date checks; no DTLS, no TLS server, no weak
  curves; session tickets, RFC 5077). TLS 1.3 is not built: 1.25's file
  list has none of mbedtls's TLS 1.3 or PSA sources;
- cross compiler: Zig from PyPI (``zig cc -target s390x-linux-musl``, no root
  and no system package) or Debian's gcc-s390x-linux-gnu. The same way
  builds a static x86_64 interpreter for running the agent's tests.

Zig traps handled here: ``zig cc -E`` given several inputs silently uses the
host's headers, so the preprocessor wrapper runs it once per file; on x86_64
MICROPY_GCREGS_SETJMP=1 is needed.

The GC heap: the unix port fixes it at 2 MiB on 64-bit targets unless
``-X heapsize`` is given, which /init cannot do (``#!/bin/micropython``
passes no second argument). The build makes main.c's default a macro
(patch_heap_default, a no-op for builds that do not define it) and sets it
to HEAP_SIZE: enough for a 1 MiB config, thousands of labels and a few
transfers, while only the pages the agent touches cost guest memory.

TLS session resumption: MicroPython's SSLSocket has no session API, so
patch_tls_session adds two methods to extmod/modtls_mbedtls.c, compiled
only where MICROPY_PY_SSL_SESSION is defined (this build defines it; a
build that does not compiles the file as before): ``get_session()``, after
the handshake, the session (with the server's ticket) as
mbedtls_ssl_session_save's bytes, or None; ``set_session(data)``, before the
handshake, offers it again (mbedtls_ssl_session_load, mbedtls_ssl_set_session),
True when it was taken. agent/compat.py keys them by host and port.

C modules under packager/cmod/ are compiled in (USER_C_MODULES): tftprx,
the TFTP receive loop agent/tftp.py uses when it is there; bootsys, the
system calls of PID 1; sigcheck, detached code signatures checked with this
mbedtls (MBEDTLS_PKCS7_C is turned on for it).

Results are cached, keyed by the source version, the toolchain, the target,
the frozen files' and the C modules' content; one build directory per key (make does not
notice changed flags).
"""

import hashlib
import os
import shutil
import sys

from packager import debian
from packager.errors import Die, run_cmd

SOURCE_SUITES = ("trixie", "sid")
# C modules built into the interpreter (MicroPython's USER_C_MODULES): one
# directory each, with its micropython.mk. tftprx is the TFTP receive loop.
CMOD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cmod")
HEAP_SIZE = 32 << 20
HEAP_LINE = "long heap_size = 1024 * 1024 * (sizeof(mp_uint_t) / 4);"
HEAP_MACRO = ("#ifndef MICROPY_UNIX_HEAP_SIZE\n"
              "#define MICROPY_UNIX_HEAP_SIZE (1024 * 1024 * (sizeof(mp_uint_t) / 4))\n"
              "#endif\n"
              "long heap_size = MICROPY_UNIX_HEAP_SIZE;")
TARGETS = {
    "s390x": {"zig": "s390x-linux-musl", "gcc": "s390x-linux-gnu-"},
    "x86_64": {"zig": "x86_64-linux-musl", "gcc": ""},
}
MAKE_FLAGS = [
    "VARIANT=standard",
    "MICROPY_PY_FFI=0",
    "MICROPY_PY_BTREE=0",
    "MICROPY_PY_SSL=1",
    "MICROPY_SSL_MBEDTLS=1",
    "MICROPY_SSL_AXTLS=0",
    "MICROPY_USE_READLINE=1",
    "MICROPY_PY_TERMIOS=1",
]

MBEDTLS_SUITES = ("trixie",)
TLS_LIBRARY = "Debian's mbedtls (%s)" % "/".join(MBEDTLS_SUITES)
# The unix port's configuration, trimmed to what an HTTPS client needs.
MBEDTLS_CONFIG = """/* s390-netboot: mbedtls configuration for the agent's HTTPS client. */
#include "mbedtls/mbedtls_config_port.h"
#undef MBEDTLS_SSL_PROTO_DTLS
#undef MBEDTLS_SSL_SRV_C
#undef MBEDTLS_ECP_DP_SECP192R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP192K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP256K1_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_ENABLED
#undef MBEDTLS_SSL_PROTO_TLS1
#undef MBEDTLS_SSL_PROTO_TLS1_1
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
/* Session tickets (RFC 5077): a reconnection to the same server resumes the
 * session in one round trip and without public-key operations (the
 * MICROPY_PY_SSL_SESSION methods of patch_tls_session). */
#define MBEDTLS_SSL_SESSION_TICKETS
/* Fast reduction modulo the NIST primes: the handshake's P-256 work. */
#define MBEDTLS_ECP_NIST_OPTIM
/* The trust store is a PEM bundle (every certificate of it in one load). */
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
/* Signed boot (packager/cmod/sigcheck): CMS/PKCS #7 SignedData, which
 * mbedtls's pkcs7.c requires CRL parsing for. */
#define MBEDTLS_PKCS7_C
#define MBEDTLS_X509_CRL_PARSE_C
"""

# patch_tls_session's text for extmod/modtls_mbedtls.c. Nothing outside
# "#if MICROPY_PY_SSL_SESSION", so a build without the macro compiles what it
# did before (the file has no __LINE__ or assert to shift).
TLS_SESSION_MACRO = "MICROPY_PY_SSL_SESSION"
TLS_SESSION_FUNCS = """#if MICROPY_PY_SSL_SESSION
// s390-netboot (packager/micropython.py, patch_tls_session): TLS session
// resumption for a client. get_session(): after the handshake, the session
// as mbedtls_ssl_session_save's bytes (None when there is none: no handshake
// yet, the socket closed, or already taken: mbedtls 3 exports a session once).
// set_session(data): before the handshake, offer that session again; False
// when it cannot be (a server that declines it gets a full handshake anyway).
// Every mbedtls session is freed before anything that can raise.
static mp_obj_t mod_ssl_get_session(mp_obj_t o_in) {
    mp_obj_ssl_socket_t *o = MP_OBJ_TO_PTR(o_in);
    if (o->sock == MP_OBJ_NULL || !mbedtls_ssl_is_handshake_over(&o->ssl)) {
        return mp_const_none;
    }
    mbedtls_ssl_session s;
    mbedtls_ssl_session_init(&s);
    unsigned char *buf = NULL;
    size_t size = 0, len = 0;
    if (mbedtls_ssl_get_session(&o->ssl, &s) == 0
        && mbedtls_ssl_session_save(&s, NULL, 0, &size) == MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL) {
        buf = m_new_maybe(unsigned char, size);
        if (buf != NULL && mbedtls_ssl_session_save(&s, buf, size, &len) != 0) {
            m_del(unsigned char, buf, size);
            buf = NULL;
        }
    }
    mbedtls_ssl_session_free(&s);
    if (buf == NULL) {
        return mp_const_none;
    }
    mp_obj_t out = mp_obj_new_bytes(buf, len);
    m_del(unsigned char, buf, size);
    return out;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_ssl_get_session_obj, mod_ssl_get_session);

static mp_obj_t mod_ssl_set_session(mp_obj_t o_in, mp_obj_t data_in) {
    mp_obj_ssl_socket_t *o = MP_OBJ_TO_PTR(o_in);
    mp_buffer_info_t data;
    mp_get_buffer_raise(data_in, &data, MP_BUFFER_READ);
    if (o->sock == MP_OBJ_NULL || mbedtls_ssl_is_handshake_over(&o->ssl)) {
        return mp_const_false;
    }
    mbedtls_ssl_session s;
    mbedtls_ssl_session_init(&s);
    int ret = mbedtls_ssl_session_load(&s, data.buf, data.len);
    if (ret == 0) {
        ret = mbedtls_ssl_set_session(&o->ssl, &s);
    }
    mbedtls_ssl_session_free(&s);
    return mp_obj_new_bool(ret == 0);
}
static MP_DEFINE_CONST_FUN_OBJ_2(mod_ssl_set_session_obj, mod_ssl_set_session);
#endif

"""
TLS_SESSION_ENTRIES = """    #if MICROPY_PY_SSL_SESSION
    { MP_ROM_QSTR(MP_QSTR_get_session), MP_ROM_PTR(&mod_ssl_get_session_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_session), MP_ROM_PTR(&mod_ssl_set_session_obj) },
    #endif
"""
TLS_CIPHER_ENTRY = "    { MP_ROM_QSTR(MP_QSTR_cipher), MP_ROM_PTR(&mod_ssl_cipher_obj) },\n"
TLS_SOCKET_TABLE = "static const mp_rom_map_elem_t ssl_socket_locals_dict_table[] = {\n"
# (text expected exactly once, what it becomes)
TLS_SESSION_EDITS = (
    (TLS_SOCKET_TABLE, TLS_SESSION_FUNCS + TLS_SOCKET_TABLE),
    (TLS_CIPHER_ENTRY + "};\n", TLS_CIPHER_ENTRY + TLS_SESSION_ENTRIES + "};\n"),
)

CPP_WRAPPER = r'''#!%(python)s
# zig cc -E with several inputs uses the host's headers: run it once per file.
import subprocess, sys
args = sys.argv[1:]
files = [a for a in args if a.endswith((".c", ".h")) and not a.startswith("-")]
flags = [a for a in args if a not in files]
base = [sys.executable, "-m", "ziglang", "cc", "-target", %(target)r] + %(extra)r
out = sys.stdout.buffer
if not files:
    out.write(subprocess.check_output(base + flags))
for f in files:
    out.write(subprocess.check_output(base + flags + [f]))
'''

CC_WRAPPER = '''#!/bin/sh
exec %(python)s -m ziglang cc -target %(target)s %(extra)s "$@"
'''


def source_dir(cache, mirror=None, log=None):
    """Unpacked MicroPython source (version, path), from the first suite that has it."""
    version, tarball = orig_tarball("micropython", SOURCE_SUITES, cache, mirror, log,
                                    "pass --interpreter FILE or check the network and --mirror")
    dest = os.path.join(cache, "micropython", "src-" + version)
    if not os.path.exists(os.path.join(dest, ".unpacked")):
        if log:
            log("unpacking MicroPython %s" % version)
        debian.extract_tar(tarball, dest)
        open(os.path.join(dest, ".unpacked"), "w").close()
    # Any FROZEN_MANIFEST needs micropython-lib to look present.
    readme = os.path.join(dest, "lib", "micropython-lib", "README.md")
    if not os.path.exists(readme):
        os.makedirs(os.path.dirname(readme), exist_ok=True)
        open(readme, "w").close()
    return version, dest


def orig_tarball(package, suites, cache, mirror, log, hint):
    """(version, path) of a Debian source package's .orig tarball, from the
    first suite that has one; Die with hint when none does."""
    last = None
    for suite in suites:
        apt = debian.Apt(suite, mirror=mirror, cache=cache, log=log, source_suites=[suite], binary=False)
        try:
            srcdir = apt.source(package)
        except Die as e:
            last = e
            continue
        tarballs = sorted(f for f in os.listdir(srcdir) if ".orig.tar" in f)
        if tarballs:
            return tarballs[-1].split("_", 1)[1].split(".orig.tar")[0], os.path.join(srcdir, tarballs[-1])
    raise Die("cannot get Debian's %s source package (%s); %s" % (package, last, hint))


def add_mbedtls(src, cache, mirror=None, log=None):
    """Unpack Debian's mbedtls source into src/lib/mbedtls (empty in Debian's
    MicroPython tarball); returns its version. Idempotent: a stamp names the
    version unpacked."""
    version, tarball = orig_tarball("mbedtls", MBEDTLS_SUITES, cache, mirror, log,
                                    "check the network and --mirror")
    dest = os.path.join(src, "lib", "mbedtls")
    stamp = os.path.join(dest, ".unpacked-s390-netboot")
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == version:
                return version
    if log:
        log("unpacking mbedtls %s into the MicroPython source" % version)
    tmp = dest + ".tmp%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    debian.extract_tar(tarball, tmp)
    top = [d for d in os.listdir(tmp) if os.path.isdir(os.path.join(tmp, d))]
    inner = os.path.join(tmp, top[0]) if len(top) == 1 else tmp
    if not os.path.exists(os.path.join(inner, "library", "ssl_tls.c")):
        raise Die("Debian's mbedtls %s has no library/ssl_tls.c: cannot build the ssl module" % version)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(inner, dest)
    shutil.rmtree(tmp, ignore_errors=True)
    with open(stamp, "w") as f:
        f.write(version)
    return version


def patch_heap_default(src):
    """Make the unix port's default heap size a macro (MICROPY_UNIX_HEAP_SIZE)
    with the old value as its default; idempotent, written atomically."""
    path = os.path.join(src, "ports", "unix", "main.c")
    with open(path) as f:
        text = f.read()
    if HEAP_MACRO in text:
        return
    if text.count(HEAP_LINE) != 1:
        raise Die("%s: the default heap size line was not found (a MicroPython release other than "
                  "1.25/1.26?): cannot set the heap to %d MiB" % (path, HEAP_SIZE >> 20))
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(text.replace(HEAP_LINE, HEAP_MACRO))
    os.replace(tmp, path)


def patch_tls_session(src):
    """Add get_session/set_session to the tls module's SSLSocket (the module
    docstring). The edits apply to the file as unpacked, kept beside it as
    .orig, so a changed patch replaces an older one in a shared source tree;
    written atomically; Die, naming the file, when the text an edit expects
    is not there exactly once."""
    path = os.path.join(src, "extmod", "modtls_mbedtls.c")
    orig = path + ".orig"
    if not os.path.exists(orig):
        with open(path) as f:
            text = f.read()
        if TLS_SESSION_MACRO in text:
            raise Die("%s is patched but %s is missing: remove %s to unpack the source again"
                      % (path, orig, src))
        _write_atomic(orig, text)
    with open(orig) as f:
        text = f.read()
    for old, new in TLS_SESSION_EDITS:
        if text.count(old) != 1:
            raise Die("%s: %r was not found once (a MicroPython release other than 1.25/1.26?): "
                      "cannot add TLS session resumption" % (path, old.splitlines()[0].strip()))
        text = text.replace(old, new)
    with open(path) as f:
        if f.read() == text:
            return
    _write_atomic(path, text)


def _write_atomic(path, text):
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def source_epoch(src):
    """The source release's own date (the mtime its tarball gives py/mpconfig.h),
    used as the interpreter's build date whatever SOURCE_DATE_EPOCH says."""
    return int(os.stat(os.path.join(src, "py", "mpconfig.h")).st_mtime)


def tree_digest(paths):
    """SHA-256 over the names and contents of files under the given paths."""
    h = hashlib.sha256()
    for top in paths:
        for root, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".pyc"):
                    continue
                full = os.path.join(root, name)
                h.update(os.path.relpath(full, top).encode() + b"\0")
                with open(full, "rb") as f:
                    h.update(f.read())
                h.update(b"\0")
    return h.hexdigest()


def _toolchain_id(toolchain):
    if toolchain == "zig":
        try:
            import ziglang  # noqa: F401
        except ImportError:
            raise Die("the zig toolchain needs the ziglang package: pip install ziglang "
                      "(or pass --toolchain gcc with gcc-s390x-linux-gnu installed)")
        out = run_cmd([sys.executable, "-m", "ziglang", "version"], capture=True)
        return "zig-" + out.strip()
    return "gcc"


def build(agent_dir, cache, arch="s390x", toolchain="zig", mirror=None, log=None):
    """Path of a static MicroPython for arch with agent_dir's manifest frozen in."""
    with debian.cache_lock(cache):
        return _build(agent_dir, cache, arch, toolchain, mirror, log)


def _build(agent_dir, cache, arch, toolchain, mirror, log):
    log = log or (lambda msg: None)
    manifest = os.path.join(agent_dir, "manifest.py")
    if not os.path.exists(manifest):
        raise Die("%s has no manifest.py: the agent directory must hold the MicroPython "
                  "freeze manifest (agent/manifest.py)" % agent_dir)
    if arch not in TARGETS:
        raise Die("no toolchain for %s" % arch)
    version, src = source_dir(cache, mirror, log)
    mbedtls_version = add_mbedtls(src, cache, mirror, log)
    tc = _toolchain_id(toolchain)
    epoch = source_epoch(src)
    key = hashlib.sha256(("%s|%s|%s|%s|%s|heap=%d|date=%d|mbedtls=%s|%s"
                          % (version, tc, arch, " ".join(MAKE_FLAGS),
                             tree_digest([agent_dir]) + tree_digest([CMOD_DIR]), HEAP_SIZE, epoch,
                             mbedtls_version, MBEDTLS_CONFIG + TLS_SESSION_FUNCS + TLS_SESSION_ENTRIES))
                         .encode()).hexdigest()[:16]
    out = os.path.join(cache, "micropython", "bin", "micropython-%s-%s" % (arch, key))
    if os.path.exists(out):
        log("interpreter: cached %s" % os.path.basename(out))
        return out, version
    os.makedirs(os.path.dirname(out), exist_ok=True)

    jobs = str(os.cpu_count() or 2)
    mpy_cross = os.path.join(src, "mpy-cross", "build", "mpy-cross")
    if not os.path.exists(mpy_cross):
        log("building mpy-cross %s for the host" % version)
        # The source's date, as for the interpreter: MicroPython's makeversionhdr.py
        # reads SOURCE_DATE_EPOCH and fails on an empty one (a container's unset ARG).
        run_cmd(["make", "-C", os.path.join(src, "mpy-cross"), "-j", jobs], quiet=True,
                env=dict(os.environ, SOURCE_DATE_EPOCH=str(epoch)),
                hint="is the host's C compiler (gcc, make) installed?")

    builddir = os.path.join(cache, "micropython", "build-%s" % key)
    shutil.rmtree(builddir, ignore_errors=True)
    os.makedirs(builddir)
    # The freeze step reads the manifest with paths relative to it; copy the agent
    # so the build sees exactly the content the key was made from.
    agent_copy = os.path.join(builddir, "agent")
    shutil.copytree(agent_dir, agent_copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    cmod_copy = os.path.join(builddir, "cmod")
    shutil.copytree(CMOD_DIR, cmod_copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    flags = list(MAKE_FLAGS) + [
        "BUILD=" + os.path.join(builddir, "obj"),
        "PROG=micropython",
        "FROZEN_MANIFEST=" + os.path.join(agent_copy, "manifest.py"),
        "USER_C_MODULES=" + cmod_copy,
        "MPY_CROSS=" + mpy_cross,
        "STRIP=",
    ]
    mbedtls_config = os.path.join(builddir, "mbedtls_config_netboot.h")
    with open(mbedtls_config, "w") as f:
        f.write(MBEDTLS_CONFIG)
    flags.append('MBEDTLS_CONFIG_FILE=\\"%s\\"' % mbedtls_config)
    patch_heap_default(src)
    patch_tls_session(src)
    cflags_extra = "-Wno-error -DMICROPY_UNIX_HEAP_SIZE=%d -D%s=1" % (HEAP_SIZE, TLS_SESSION_MACRO)
    if toolchain == "zig":
        target = TARGETS[arch]["zig"]
        extra = "-DMICROPY_GCREGS_SETJMP=1" if arch == "x86_64" else ""
        cc = os.path.join(builddir, "zcc")
        cpp = os.path.join(builddir, "zcpp")
        with open(cc, "w") as f:
            f.write(CC_WRAPPER % {"python": sys.executable, "target": target, "extra": extra})
        with open(cpp, "w") as f:
            f.write(CPP_WRAPPER % {"python": sys.executable, "target": target,
                                   "extra": ["-E", "-x", "c"] + ([extra] if extra else [])})
        os.chmod(cc, 0o755)
        os.chmod(cpp, 0o755)
        # zig's linker rejects -Wl,-Map, which the unix port's LDFLAGS_ARCH carries.
        flags += ["CC=" + cc, "CPP=" + cpp, "LD=" + cc, "SIZE=true", "STRIP=",
                  "LDFLAGS_ARCH=-Wl,--gc-sections",
                  "LDFLAGS_EXTRA=-static -s"]
    else:
        prefix = TARGETS[arch]["gcc"]
        if shutil.which(prefix + "gcc") is None:
            raise Die("%sgcc not found: apt-get install gcc-%s libc6-dev-%s-cross, or use --toolchain zig"
                      % (prefix, prefix.rstrip("-").replace("-linux-gnu", "-linux-gnu"), arch))
        flags += ["CROSS_COMPILE=" + prefix, "LDFLAGS_EXTRA=-static -s", "SIZE=true"]
    flags.append("CFLAGS_EXTRA=" + cflags_extra)
    log("building MicroPython %s for %s with %s (about half a minute)" % (version, arch, tc))
    # The banner's build date ("MicroPython v1.25.0 on DATE") is the source's,
    # not today's: the same inputs give the same interpreter on any day.
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    run_cmd(["make", "-C", os.path.join(src, "ports", "unix"), "-j", jobs] + flags, quiet=True, env=env,
            hint="the %s cross build of MicroPython failed; rerun with -v to see the compiler" % toolchain)
    prog = os.path.join(builddir, "obj", "micropython")
    if not os.path.exists(prog):
        raise Die("the MicroPython build made no %s" % prog)
    tmp = out + ".tmp"
    shutil.copyfile(prog, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)
    shutil.rmtree(builddir, ignore_errors=True)
    prune(os.path.dirname(out), "micropython-%s-" % arch, keep=KEEP_BUILDS)
    return out, version


KEEP_BUILDS = 4


def prune(directory, prefix, keep):
    """Remove all but the newest `keep` cached interpreters of one target."""
    found = sorted((os.path.getmtime(os.path.join(directory, f)), f) for f in os.listdir(directory)
                   if f.startswith(prefix) and not f.endswith(".tmp"))
    for _, name in found[:-keep]:
        os.remove(os.path.join(directory, name))
