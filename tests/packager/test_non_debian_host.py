"""The packager, and the tools that find a Debian mirror, on a host that is not
Debian: an Ubuntu host (its apt sources name only Ubuntu's archive, which has
no Debian bookworm) and a host with no apt at all (RHEL, SLES). Each says in
one line what to do (--mirror URL with Debian's keyring, or the container);
never a traceback, nothing written at the output path.

The other host's files are fakes (a sources list, an os-release), shown to
`packager build` through bind mounts in a private mount namespace, and to
tools/mirror-uri through its OS_RELEASE/APT_ETC variables."""

import os
import subprocess
import sys

import pytest

from packager import debian

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

UBUNTU_LIST = ("deb http://archive.example.org/ubuntu jammy main restricted\n"
               "deb http://archive.example.org/ubuntu jammy-updates main restricted\n"
               "deb http://security.example.org/ubuntu jammy-security main\n")
UBUNTU_SOURCES = ("Types: deb\nURIs: http://archive.example.org/ubuntu\nSuites: noble noble-updates\n"
                  "Components: main\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n")
DEBIAN_SOURCES = ("Types: deb\nURIs: http://mirror.example.org/debian\nSuites: bookworm bookworm-updates\n"
                  "Components: main\n\nTypes: deb\nURIs: http://mirror.example.org/debian-security\n"
                  "Suites: bookworm-security\nComponents: main\n")
OS_RELEASES = {
    "ubuntu": 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n',
    "rhel": 'NAME="Red Hat Enterprise Linux"\nVERSION_ID="9.4"\nID="rhel"\nID_LIKE="fedora"\n',
    "debian": 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_CODENAME=trixie\n',
}


def apt_etc(tmp_path, files):
    """A fake /etc/apt holding files {relative path: text}."""
    etc = tmp_path / "apt"
    os.makedirs(str(etc / "sources.list.d"))
    for name, text in files.items():
        (etc / name).write_text(text)
    return etc


def os_release(tmp_path, kind):
    path = tmp_path / "os-release"
    path.write_text(OS_RELEASES[kind])
    return path


# (name, files of /etc/apt, want: a mirror, or a substring of the HostError)
MIRROR_CASES = [
    ("debian deb822", {"sources.list.d/debian.sources": DEBIAN_SOURCES}, "http://mirror.example.org/debian"),
    ("ubuntu one-line", {"sources.list": UBUNTU_LIST}, "no Debian archive in the apt sources on this ubuntu host"),
    ("ubuntu deb822", {"sources.list.d/ubuntu.sources": UBUNTU_SOURCES},
     "no Debian archive in the apt sources on this ubuntu host"),
    ("no sources", {}, "no apt sources on this ubuntu host"),
]


@pytest.mark.parametrize("name,files,want", MIRROR_CASES, ids=[c[0] for c in MIRROR_CASES])
def test_system_mirror(tmp_path, name, files, want):
    etc = apt_etc(tmp_path, files)
    kw = dict(source_files=(str(etc / "sources.list"),), source_dir=str(etc / "sources.list.d"),
              os_release_path=str(os_release(tmp_path, "ubuntu")))
    try:
        got = debian.system_mirror(**kw)
    except debian.HostError as e:
        got = str(e)
        assert "\n" not in got and "--mirror URL" in got and "podman build -t s390-netboot ." in got, got
    assert want in got, "system_mirror(%s) = %r, want %r" % (name, got, want)


@pytest.mark.parametrize("kind,want", [("ubuntu", "bookworm"), ("rhel", "bookworm"), ("debian", "trixie"),
                                       (None, "bookworm")])
def test_host_suite(tmp_path, kind, want):
    path = str(os_release(tmp_path, kind)) if kind else str(tmp_path / "missing")
    got = debian.host_suite(path)
    assert got == want, "host_suite(%s) = %r, want %r" % (kind, got, want)


def test_check_host_without_apt_or_keyring(tmp_path):
    rel = str(os_release(tmp_path, "rhel"))
    with pytest.raises(debian.HostError) as e:
        debian.check_host("http://mirror.example.org/debian", which=lambda name: None, os_release_path=rel)
    assert str(e.value).startswith("apt-get not found: this rhel host has no apt"), e.value
    with pytest.raises(debian.HostError) as e:
        debian.check_host("http://mirror.example.org/debian", which=lambda name: "/usr/bin/" + name,
                          keyring=str(tmp_path / "debian-archive-keyring.gpg"))
    assert "debian-archive-keyring.gpg missing" in str(e.value) and "apt-get install debian-archive-keyring" \
        in str(e.value), e.value
    got = debian.check_host("http://mirror.example.org/debian", which=lambda name: "/usr/bin/" + name,
                            keyring=debian.KEYRING if os.path.exists(debian.KEYRING) else rel)
    assert got == "http://mirror.example.org/debian", got


def build_on(tmp_path, files, kind, path=None):
    """`packager build` with /etc/apt and /etc/os-release replaced by fakes (a
    private mount namespace); (exit code, stderr, what is in the output dir)."""
    etc = apt_etc(tmp_path, files)
    rel = os_release(tmp_path, kind)
    out = tmp_path / "out"
    os.makedirs(str(out))
    script = 'mount --bind "$0" /etc/apt && mount --bind "$1" /etc/os-release || exit 99; shift; exec "$@"'
    inner = ["env", "PATH=" + path] if path is not None else []
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, str(etc), str(rel)] + inner + [sys.executable, "-m", "packager",
                        "build", "--agent", os.path.join(ROOT, "agent"), "-o", str(out / "pxelinux.0"),
                        "--cache", str(tmp_path / "cache")],
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    return p.returncode, p.stderr, os.listdir(str(out))


needs_root = pytest.mark.skipif(os.getuid() != 0, reason="bind mounts over /etc need root (unshare -m)")


@needs_root
def test_build_on_ubuntu_says_what_to_do(tmp_path):
    rc, err, left = build_on(tmp_path, {"sources.list": UBUNTU_LIST}, "ubuntu")
    errors = [l for l in err.splitlines() if l.startswith("packager:")]
    assert rc == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith("packager: error: no Debian archive in the apt sources on this ubuntu host"), err
    assert "--mirror URL" in errors[0] and "podman build -t s390-netboot ." in errors[0], err
    assert "fetching Debian bookworm s390x parts" in err, "an Ubuntu codename taken as the Debian suite: " + err
    assert left == [], "left in the output directory: %s" % left


@needs_root
def test_build_without_apt_says_what_to_do(tmp_path):
    # A RHEL host: no apt sources, no apt-get on PATH (only this Python).
    bin_dir = tmp_path / "bin"
    os.makedirs(str(bin_dir))
    os.symlink(sys.executable, str(bin_dir / "python3"))
    rc, err, left = build_on(tmp_path, {}, "rhel", path="%s:/usr/sbin:/sbin" % bin_dir)
    errors = [l for l in err.splitlines() if l.startswith("packager:")]
    assert rc == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith("packager: error: apt-get not found: this rhel host has no apt"), err
    assert "podman build -t s390-netboot ." in errors[0], err
    assert left == [], "left in the output directory: %s" % left


@pytest.mark.parametrize("files,kind,rc,want", [
    ({"sources.list.d/debian.sources": DEBIAN_SOURCES}, "debian", 1, "no Debian mirror for trixie"),
    ({"sources.list.d/debian.sources": DEBIAN_SOURCES.replace("bookworm", "trixie")}, "debian", 0,
     "http://mirror.example.org/debian\n"),
    ({"sources.list": UBUNTU_LIST}, "ubuntu", 1, "mirror-uri: this ubuntu host's apt sources name no Debian archive"),
    ({"sources.list": UBUNTU_LIST.replace("jammy", "trixie")}, "debian", 1, "no Debian mirror for trixie"),
    ({}, "rhel", 1, "mirror-uri: this rhel host"),
])
def test_mirror_uri(tmp_path, files, kind, rc, want):
    etc = apt_etc(tmp_path, files)
    env = dict(os.environ, APT_ETC=str(etc), OS_RELEASE=str(os_release(tmp_path, kind)))
    env.pop("MIRROR", None)
    p = subprocess.run([os.path.join(ROOT, "tools", "mirror-uri")], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    got = p.stdout if rc == 0 else p.stderr
    assert p.returncode == rc and want in got and got.count("\n") == 1, \
        "mirror-uri on %s = (%d, %r), want (%d, %r)" % (kind, p.returncode, got, rc, want)
