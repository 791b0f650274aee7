"""`packager build --agent agent/`: everything from parts to pxelinux.0.

Parts and where they come from:
- sysroot: --sysroot DIR; on an s390x host `/` with the running kernel;
  elsewhere one assembled from Debian's s390x packages (packager.debian);
- kernel and modules: --kernel FILE / --modules DIR override the sysroot's;
- interpreter: --interpreter FILE, or MicroPython built with the agent frozen
  in (packager.micropython);
- rootfs-skel/ (beside the agent directory, or --skel), busybox with its
  applet links, the network modules with their dependencies; kexec-tools
  with its ELF closure only with --kexec-tools or an interpreter without
  bootsys (the agent loads kernels with its own system calls).

The output and its manifest are written through temporary files, so a
failed build leaves nothing at the output path.
"""

import glob
import hashlib
import json
import os
import platform
import shutil
import stat
import sys
import time

from agent.inet import https_hosts
from agent.text import pem_blocks
from packager import debian, elfdeps, initramfs, kmod, micropython, s390image
from packager.errors import Die, note
from packager.files import check_output, read_file, write_all

SYSROOT_PACKAGES = ["linux-image", "busybox-static", "kexec-tools", "libc6"]
NET_MODULES = ["virtio_net", "virtio_blk", "af_packet"]
# Loaded only for a local boot by kexec (agent/boot.py boot_local, the list in
# /etc/netboot/modules.local): the file systems an installed s390 Linux keeps
# /boot on (ext4: Debian, Ubuntu; xfs: RHEL, Fedora; isofs: an installer disk)
# and, first, crc32c, which libcrc32c (xfs) asks the crypto API for when it
# loads and ext4 when it mounts (no modprobe in the image to fetch it later).
# btrfs (SUSE) would add 2.9 MB of modules and is left out; DASD needs its devices
# set online, which the agent does not do yet.
LOCAL_MODULES = ["crc32c_generic", "ext4", "xfs", "isofs"]
BUSYBOX_CANDIDATES = ["bin/busybox", "usr/bin/busybox"]
KEXEC_CANDIDATES = ["sbin/kexec", "usr/sbin/kexec"]

# Applets linked when the busybox binary's own list cannot be read.
ESSENTIAL_APPLETS = ["sh", "mount", "umount", "ip", "udhcpc", "insmod", "modprobe", "reboot",
                     "poweroff", "sleep", "cat", "mkdir", "ls", "dmesg", "ps", "kill", "setsid",
                     "cttyhack", "echo", "cp", "mv", "rm", "ln", "grep", "sed", "vi", "wget", "tftp"]


CA_PATH = "etc/s390-netboot/ca.pem"            # agent.http.CA_FILE
SIGN_CA_PATH = "etc/s390-netboot/sign-ca.pem"  # agent.verify.ROOTS_FILE
DEFAULTS_PATH = "etc/s390-netboot/defaults"    # agent.boot.DEFAULTS
# Always at the front of the first kernel's command line (--cmdline follows,
# so "cryptomgr.notests=0" there undoes it). The kernel's crypto self-tests
# cost 0.9 s of its boot under emulation (initcall_debug: crypto_algapi_init
# 0.53 s, crypto_kdf108_init 0.23 s); this kernel only runs the agent, which
# uses no kernel crypto. FIPS mode (fips=1) runs them anyway.
# docs/performance.md, "What changed".
BOOT_CMDLINE = "cryptomgr.notests"



def has_bootsys(interp_data):
    """Whether an interpreter has the bootsys module (packager/cmod/bootsys):
    its version text is in the binary (the function names are also in the
    frozen agent, which calls them)."""
    return b"s390-netboot bootsys 1" in interp_data


def image_cmdline(extra):
    """The first kernel's command line: BOOT_CMDLINE, then --cmdline's text."""
    extra = (extra or "").strip()
    return BOOT_CMDLINE + (" " + extra if extra else "")


def debian_ca_bundle(args, cache):
    """Debian's ca-certificates bundle, as update-ca-certificates would make it
    from the package's certificates (in name order), from the packager's apt."""
    suite = args.suite or debian.host_suite()
    apt = debian.Apt(suite, mirror=args.mirror, cache=cache, log=lambda m: note("    " + m))
    deb, _, version = apt.download("ca-certificates")
    dest = os.path.join(cache, "ca-certificates", version)
    if not os.path.isdir(os.path.join(dest, "usr")):
        debian.extract_deb(deb, dest)
    top = os.path.join(dest, "usr", "share", "ca-certificates")
    texts = []
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".crt"):
                with open(os.path.join(root, name)) as f:
                    texts.append(f.read())
    if not texts:
        raise Die("Debian's ca-certificates package (%s) has no certificates under "
                  "/usr/share/ca-certificates" % os.path.basename(deb))
    return "\n".join(texts), "Debian's ca-certificates %s" % version


def trust_store(args, cache):
    """{pem, count, source} of --ca-certs FILE|debian; one-line Die when unusable."""
    if args.ca_certs == "debian":
        text, source = debian_ca_bundle(args, cache)
    else:
        raw = read_file(args.ca_certs, "--ca-certs file")
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise Die("--ca-certs %s is not a PEM file (binary data): give PEM certificates, e.g. "
                      "openssl x509 -inform der -in CA.der -out CA.pem" % args.ca_certs)
        source = args.ca_certs
    certs = pem_blocks(text)
    if not certs:
        raise Die("--ca-certs %s holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA "
                  "that signed your boot server's certificate" % args.ca_certs)
    return {"pem": "".join(certs), "count": len(certs), "source": source}


def sign_roots(path):
    """{pem, roots: [{subject, sha256}], source} of --sign-ca FILE: the
    code-signing roots of signed boot (a trust store apart from --ca-certs).
    sha256 is the certificate's fingerprint (of its DER); the subject is
    openssl's reading of it (None when openssl is not installed). One-line
    Die when unusable."""
    import base64
    import subprocess
    raw = read_file(path, "--sign-ca file")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise Die("--sign-ca %s is not a PEM file (binary data): give PEM certificates, e.g. "
                  "openssl x509 -inform der -in root.der -out root.pem" % path)
    certs = pem_blocks(text)
    if not certs:
        raise Die("--sign-ca %s holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the site's "
                  "code-signing root CA" % path)
    roots = []
    for pem in certs:
        body = "".join(pem.strip().splitlines()[1:-1])
        try:
            der = base64.b64decode(body, validate=True)
        except ValueError:
            raise Die("--sign-ca %s: a certificate block is not valid base64" % path)
        subject = None
        if shutil.which("openssl"):
            p = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253"], input=pem.encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if p.returncode != 0:
                raise Die("--sign-ca %s: a certificate openssl cannot read (%s)"
                          % (path, p.stderr.decode(errors="replace").strip().splitlines()[0]))
            subject = p.stdout.decode(errors="replace").strip().split("=", 1)[-1]
        roots.append({"subject": subject, "sha256": hashlib.sha256(der).hexdigest()})
    return {"pem": "".join(certs), "roots": roots, "source": path}


class Step:
    """Prints a numbered step and how long it took."""

    def __init__(self):
        self.n = 0

    def __call__(self, msg):
        self.n += 1
        note("[%d] %s" % (self.n, msg))


def busybox_applets(data):
    """Applet names from a busybox binary's own name table, without running it.

    busybox keeps its applet names as one NUL-separated, sorted string that
    starts with "[" and "[[". Returns [] when the table is not found.
    """
    start = data.find(b"[\0[[\0")
    if start < 0:
        return []
    names = []
    pos = start
    while True:
        end = data.find(b"\0", pos)
        if end < 0 or end - pos > 32:
            break
        name = data[pos:end]
        if not name:
            break
        try:
            text = name.decode("ascii")
        except UnicodeDecodeError:
            break
        if not all(c.isalnum() or c in "[-_." for c in text):
            break
        names.append(text)
        pos = end + 1
    if len(names) < 10 or names != sorted(names):
        return []
    return names


def find_first(root, candidates, what, hint):
    for rel in candidates:
        if os.path.lexists(os.path.join(root, rel)):
            return rel
    raise Die("no %s in the sysroot %s (looked for %s): %s"
              % (what, root, ", ".join("/" + c for c in candidates), hint))


def skeleton_entries(skel):
    """rootfs-skel/ as archive records (git keeps only the x bit: modes are normalised)."""
    if not os.path.isdir(skel):
        raise Die("image skeleton %s does not exist (pass --skel DIR)" % skel)
    out = []
    for root, dirs, files in os.walk(skel):
        dirs.sort()
        rel_root = os.path.relpath(root, skel)
        if rel_root != ".":
            perm = 0o1777 if rel_root == "tmp" else 0o755
            out.append(initramfs.directory(rel_root, perm))
        # os.walk lists a symlink to a directory among the directories and does
        # not follow it: it is a link record, whatever it points at on this host.
        for name in [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            dirs.remove(name)
            files.append(name)
        for name in sorted(files):
            if name == ".keep":
                continue
            full = os.path.join(root, name)
            rel = os.path.normpath(os.path.join(rel_root, name))
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out.append(initramfs.symlink(rel, os.readlink(full)))
            elif not stat.S_ISREG(st.st_mode):
                # Reading a FIFO would wait forever, a device could be
                # anything: the skeleton holds files, directories and links;
                # the build itself makes /dev/console and /dev/null.
                kind = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
                        stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}.get(
                            stat.S_IFMT(st.st_mode), "a special file")
                raise Die("--skel: %s is %s; the skeleton may hold only files, directories and "
                          "symlinks (the build adds /dev/console and /dev/null itself): remove it"
                          % (full, kind))
            else:
                with open(full, "rb") as f:
                    out.append(initramfs.file(rel, f.read(), 0o755 if st.st_mode & 0o111 else 0o644))
    return out


def sysroot_entries(root, closure):
    """Archive records for an ELF closure: files as files, links as links."""
    out = []
    for rel in closure.files:
        st = os.stat(os.path.join(root, rel))
        with open(os.path.join(root, rel), "rb") as f:
            out.append(initramfs.file(rel, f.read(), 0o755 if st.st_mode & 0o111 else 0o644))
    for link, target in sorted(closure.links.items()):
        out.append(initramfs.symlink(link, target))
    return out


# The root an s390x host builds from (its own binaries and kernel); tests point
# it at a Debian s390x tree to walk that path on another machine.
HOST_ROOT = "/"


def host_is_s390x():
    return platform.machine() == "s390x"


# Set by the Containerfile to what built the image ("container (...)"); the
# manifest beside pxelinux.0 says so. A container has no host kernel, so even
# on an s390x host it takes Debian's parts.
CONTAINER_ENV = "S390_NETBOOT_CONTAINER"


def built_in():
    return os.environ.get(CONTAINER_ENV) or "host"


def host_parts():
    """Whether to build from this s390x host's own root and running kernel."""
    return host_is_s390x() and not os.environ.get(CONTAINER_ENV)


def running_kernel(root):
    """The running kernel's image, as s390-tools' Makefile.pxelinux.0 picks it."""
    release = platform.release()
    for name in ("boot/image-%s" % release, "boot/vmlinuz-%s" % release):
        path = os.path.join(root, name)
        if os.path.exists(path):
            return path, release
    raise Die("no /boot/image-%s or /boot/vmlinuz-%s for the running kernel: pass --kernel FILE"
              % (release, release))


def resolve_parts(args, cache, step):
    """(sysroot, kernel path, parts list)."""
    parts = []
    if args.sysroot:
        sysroot = os.path.abspath(args.sysroot)
        if not os.path.isdir(sysroot):
            raise Die("--sysroot %s is not a directory" % args.sysroot)
        parts.append(("sysroot", sysroot))
    elif host_parts():
        sysroot = HOST_ROOT
        parts.append(("sysroot", "%s (this s390x host)" % HOST_ROOT))
    else:
        suite = args.suite or debian.host_suite()
        step("fetching Debian %s s390x parts (%s)" % (suite, ", ".join(SYSROOT_PACKAGES)))
        apt = debian.Apt(suite, mirror=args.mirror, cache=cache, log=lambda m: note("    " + m))
        sysroot = os.path.join(cache, "sysroot", "%s-s390x" % suite)
        try:
            for name, version in debian.fetch_sysroot(apt, sysroot, SYSROOT_PACKAGES):
                parts.append((name, version))
        except debian.HostError:
            raise
        except Die as e:
            raise Die("%s (a first build needs the network; later ones use the cache in %s)"
                      % (e, cache))
    if args.kernel:
        kernel = args.kernel
    elif sysroot == HOST_ROOT and host_parts():
        kernel, _ = running_kernel(HOST_ROOT)
    else:
        found = sorted(glob.glob(os.path.join(sysroot, "boot", "vmlinuz-*")) +
                       glob.glob(os.path.join(sysroot, "boot", "image-*")))
        if not found:
            raise Die("no kernel in %s/boot (vmlinuz-* or image-*): pass --kernel FILE" % sysroot)
        kernel = found[-1]
    return sysroot, kernel, parts


def modules_dir(args, sysroot, release):
    if args.modules:
        if not os.path.isdir(args.modules):
            raise Die("--modules %s is not a directory" % args.modules)
        return args.modules
    return os.path.join(sysroot, "lib", "modules", release)


def kernel_config(sysroot, release):
    path = os.path.join(sysroot, "boot", "config-" + release)
    if os.path.exists(path):
        with open(path) as f:
            return f.read()
    return ""


HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.-:"


def https_host_list(values):
    """--https-host values: lower-case DNS names or IP addresses ([v6] without
    brackets), each checked; Die on anything else."""
    out = []
    for v in values or []:
        hosts = https_hosts(v)
        if not hosts or len(hosts) != len([h for h in v.split(",")]) or \
                any(c not in HOST_CHARS for h in hosts for c in h):
            raise Die("--https-host %r: want a host name or an IP address (no port, no URL)" % v)
        out += hosts
    return out


MAX_SPREAD_S = 3600    # agent.boot.MAX_SPREAD_S


def spread_seconds(value):
    """--spread S as seconds (0 when not given); Die unless a whole number 0-3600."""
    if value is None:
        return 0
    text = str(value).strip()
    if not (text and len(text) < 6 and all(c in "0123456789" for c in text) and int(text) <= MAX_SPREAD_S):
        raise Die("--spread %r: want a whole number of seconds from 0 to %d" % (value, MAX_SPREAD_S))
    return int(text)


def defaults_text(https_only=False, hosts=None, signed=False, spread=0):
    """The pxe.* words built into the image (agent.boot.DEFAULTS), one a line:
    the kernel command line's own pxe.* words override them, except
    pxe.https-only, pxe.https-host and pxe.verify=required (agent.boot.load_options)."""
    text = ""
    if https_only:
        text += "pxe.https-only\n" + ("pxe.https-host=%s\n" % ",".join(hosts) if hosts else "")
    if signed:
        text += "pxe.verify=required\n"
    if spread:
        text += "pxe.spread=%d\n" % spread
    return text


def run(args):
    t0 = time.time()
    step = Step()
    agent_dir = os.path.abspath(args.agent)
    if not os.path.isdir(agent_dir):
        raise Die("--agent %s is not a directory" % args.agent)
    if not os.path.exists(os.path.join(agent_dir, "manifest.py")):
        raise Die("--agent %s has no manifest.py: point it at the agent/ directory of s390-netboot"
                  % args.agent)
    hosts = https_host_list(getattr(args, "https_host", None))
    if hosts:
        args.https_only = True
    spread_seconds(getattr(args, "spread", None))
    check_output(args.output, [("agent directory", agent_dir)])
    check_output(args.output + ".manifest.json")
    cache = os.path.abspath(args.cache) if args.cache else debian.cache_root()
    skel = args.skel or os.path.join(os.path.dirname(agent_dir), "rootfs-skel")

    with debian.cache_lock(cache):
        return _run(args, t0, step, agent_dir, cache, skel)


def _run(args, t0, step, agent_dir, cache, skel):
    # The trust store first: a wrong --ca-certs fails before any long step.
    trust = None
    if args.ca_certs:
        if args.ca_certs == "debian":
            step("fetching Debian's ca-certificates")
        trust = trust_store(args, cache)
    signing = sign_roots(args.sign_ca) if getattr(args, "sign_ca", None) else None
    sysroot, kernel_path, parts = resolve_parts(args, cache, step)
    check_output(args.output, [("input kernel", kernel_path)])
    kernel = read_file(kernel_path, "kernel")
    try:
        s390image.check_kernel(kernel)
    except s390image.ImageError as e:
        raise Die("%s: %s" % (kernel_path, e))
    version = s390image.parse_image(kernel)["kernel_version"] or ""
    release = version.split()[0] if version else os.path.basename(kernel_path).split("-", 1)[-1]
    parts.append(("kernel", "%s (%s)" % (release, os.path.basename(kernel_path))))

    step("interpreter")
    if args.interpreter:
        interp = os.path.abspath(args.interpreter)
        if not os.path.exists(interp):
            raise Die("--interpreter %s does not exist" % args.interpreter)
        parts.append(("micropython", "prebuilt %s" % args.interpreter))
    else:
        interp, mp_version = micropython.build(agent_dir, cache, "s390x", args.toolchain, args.mirror,
                                               log=lambda m: note("    " + m))
        parts.append(("micropython", "%s, static s390x, %s, agent frozen in, %d MiB heap"
                      % (mp_version, args.toolchain, micropython.HEAP_SIZE >> 20)))

    # The interpreter loads kernels with its own system calls (bootsys);
    # kexec-tools and the glibc it needs (0.8 MB of the 1.9 MB initramfs) go
    # in only on request or for an interpreter without them.
    interp_data = read_file(interp, "interpreter")
    with_kexec = bool(getattr(args, "kexec_tools", False)) or not has_bootsys(interp_data)
    step("closing over busybox%s and the interpreter" % (", kexec" if with_kexec else ""))
    busybox = find_first(sysroot, BUSYBOX_CANDIDATES, "busybox",
                         "install busybox-static in it, or omit --sysroot to use Debian's")
    programs = [busybox]
    if with_kexec:
        kexec = find_first(sysroot, KEXEC_CANDIDATES, "kexec",
                           "install kexec-tools in it, or omit --sysroot to use Debian's")
        programs.append(kexec)
    closure = elfdeps.closure(sysroot, programs)
    entries = skeleton_entries(skel)
    entries += sysroot_entries(sysroot, closure)
    bb_real = elfdeps.chase(sysroot, busybox)
    applets = busybox_applets(read_file(os.path.join(sysroot, bb_real), "busybox")) or ESSENTIAL_APPLETS
    for name in applets:
        if name in ("busybox", "init", "linuxrc"):
            continue
        entries.append(initramfs.symlink("bin/" + name, "busybox"))
    if os.path.normpath(busybox) != "bin/busybox":
        entries.append(initramfs.symlink("bin/busybox", "/" + busybox))
    if with_kexec and os.path.normpath(kexec) != "sbin/kexec":
        entries.append(initramfs.symlink("sbin/kexec", "/" + kexec))

    # The interpreter: one static file, or a dynamic one with its libraries.
    entries.append(initramfs.file("bin/micropython", interp_data, 0o755))
    if args.interpreter:
        import shutil
        import tempfile
        tmp = tempfile.mkdtemp()
        try:
            os.makedirs(os.path.join(tmp, "bin"))
            shutil.copy(interp, os.path.join(tmp, "bin", "micropython"))
            for name in ("lib", "lib64", "usr"):
                if os.path.exists(os.path.join(sysroot, name)):
                    os.symlink(os.path.join(sysroot, name), os.path.join(tmp, name))
            ic = elfdeps.closure(tmp, ["bin/micropython"])
            entries += [e for e in sysroot_entries(tmp, ic) if e.path != "bin/micropython"]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    step("kernel modules for %s" % release)
    moddir = modules_dir(args, sysroot, release)
    mods = kmod.closure(moddir, release, NET_MODULES, kernel_config(sysroot, release))
    if "virtio_net" in mods.missing:
        raise Die("virtio_net is neither a module in %s nor built into the kernel: pass --modules DIR"
                  % moddir)
    for rel in mods.order:
        entries.append(initramfs.file("lib/modules/%s/%s" % (release, rel), mods.data[rel]))
    entries.append(initramfs.file("lib/modules/%s/modules.dep" % release, mods.modules_dep()))
    entries.append(initramfs.file("etc/netboot/modules", "".join(m + "\n" for m in mods.order)))
    local = kmod.closure(moddir, release, LOCAL_MODULES, kernel_config(sysroot, release))
    local_order = [rel for rel in local.order if rel not in mods.deps]
    for rel in local_order:
        entries.append(initramfs.file("lib/modules/%s/%s" % (release, rel), local.data[rel]))
    entries.append(initramfs.file("etc/netboot/modules.local", "".join(m + "\n" for m in local_order)))
    if trust is not None:
        entries.append(initramfs.file(CA_PATH, trust["pem"]))
    if signing is not None:
        entries.append(initramfs.file(SIGN_CA_PATH, signing["pem"]))
    spread = spread_seconds(getattr(args, "spread", None))
    defaults = defaults_text(args.https_only, https_host_list(getattr(args, "https_host", None)),
                             signing is not None, spread)
    if defaults:
        entries.append(initramfs.file(DEFAULTS_PATH, defaults))
    entries.append(initramfs.chardev("dev/console", 5, 1, 0o600))
    entries.append(initramfs.chardev("dev/null", 1, 3, 0o666))

    # Parts the image does not carry leave the list: kexec-tools without
    # --kexec-tools, libc6 unless something (kexec, a dynamic interpreter)
    # brought glibc in.
    has_libc = any("libc.so" in e.path for e in entries)
    parts[:] = [(n, v) for n, v in parts
                if not (n == "kexec-tools" and not with_kexec) and not (n == "libc6" and not has_libc)]
    manifest = {
        "output": os.path.basename(args.output),
        "kernel_version": version,
        "compression": args.compress,
        "cmdline": image_cmdline(args.cmdline),
        "parts": [{"name": n, "version": v} for n, v in parts],
        "modules": mods.order,
        "local_modules": local_order,
        "builtin_modules": mods.builtin,
        "busybox_applets": len(applets),
        "ca_certs": None if trust is None else {"source": trust["source"], "count": trust["count"],
                                                 "sha256": hashlib.sha256(trust["pem"].encode()).hexdigest()},
        "https_only": bool(args.https_only),
        "https_hosts": https_host_list(getattr(args, "https_host", None)) or None,
        "spread": spread,
        "sign_ca": None if signing is None else {"source": signing["source"], "roots": signing["roots"],
                                                 "sha256": hashlib.sha256(signing["pem"].encode()).hexdigest()},
        "agent_sha256": micropython.tree_digest([agent_dir]),
        "source_date_epoch": initramfs.source_date_epoch(),
    }
    entries.append(initramfs.file("etc/netboot/manifest.json",
                                  json.dumps({k: v for k, v in manifest.items() if k != "output"},
                                             indent=1, sort_keys=True) + "\n"))

    step("initramfs (%s)" % args.compress)
    try:
        initrd = initramfs.write(entries, args.compress)
    except ValueError as e:
        raise Die("initramfs: %s" % e)
    try:
        image = s390image.make_image(kernel, initrd, image_cmdline(args.cmdline))
    except s390image.ImageError as e:
        raise Die("--cmdline: %s (with the image's own %r in front)" % (e, BOOT_CMDLINE + " "))
    except UnicodeEncodeError:
        raise Die("--cmdline: the kernel command line must be plain ASCII")

    # Only beside the image, not in it: the same inputs give the same bytes
    # on a host and in a container.
    manifest["built_in"] = built_in()
    manifest["image_size"] = len(image)
    manifest["initramfs_size"] = len(initrd)
    manifest["image_sha256"] = hashlib.sha256(image).hexdigest()
    manifest_path = args.output + ".manifest.json"
    write_all([(args.output, image, 0o644),
               (manifest_path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(), 0o644)])

    print("wrote %s: %d bytes (%.1f MiB) in %.0f s" % (args.output, len(image), len(image) / 1048576.0,
                                                       time.time() - t0))
    print("  kernel:    %s" % version)
    print("  initramfs: %d bytes, %s, %d entries" % (len(initrd), args.compress,
                                                     len(initramfs.normalise(entries))))
    print("  cmdline:   %s" % image_cmdline(args.cmdline))
    if spread:
        print("  spread:    pxe.spread=%d built in (pxe.spread= on the kernel command line overrides it)" % spread)
    if trust is None:
        print("  https:     no trust store: https:// fails closed (add one with --ca-certs FILE|debian)")
    else:
        print("  https:     %d CA certificate%s from %s, %d bytes at /%s%s"
              % (trust["count"], "" if trust["count"] == 1 else "s", trust["source"], len(trust["pem"]), CA_PATH,
                 ("; https only" + (" from %s" % ", ".join(https_host_list(args.https_host))
                                     if getattr(args, "https_host", None) else ""))
                 if args.https_only else ""))
    if signing is None:
        print("  signed:    no (files are not checked; build with --sign-ca FILE for signed boot)")
    else:
        print("  signed:    pxe.verify=required; %d code-signing root%s from %s at /%s:"
              % (len(signing["roots"]), "" if len(signing["roots"]) == 1 else "s", signing["source"], SIGN_CA_PATH))
        for r in signing["roots"]:
            print("             %s (SHA-256 %s)" % (r["subject"] or "(subject unread: no openssl)", r["sha256"]))
    print("  tls:       %s in the interpreter (%d bytes); its cost: docs/performance.md"
          % (micropython.TLS_LIBRARY, len(interp_data)))
    for name, ver in parts:
        print("  part:      %-28s %s" % (name, ver))
    print("  modules:   %s (built in: %s)" % (", ".join(os.path.basename(m) for m in mods.order),
                                             ", ".join(mods.builtin) or "none"))
    print("  manifest:  %s" % manifest_path)
    print("serve it: copy %s to your TFTP root beside pxelinux.cfg/ (see docs/)" % args.output)
    sys.stdout.flush()
    return 0
