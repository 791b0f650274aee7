"""`s390-netboot lint`: the trees of tests/testdata/lint (good, broken with its
golden output), one small tree per kind of finding, the command line (exit
codes, --json, --help on every verb), a real distribution tree, and the
command installed by pip into a fresh venv."""

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys

import pytest

from agent import plan as planmod
from agent.fetch import CONFIG_LIMIT, NotFound
from agent import pxeconfig
from workstation import cli
from workstation.lint import Linter, search_name

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "testdata", "lint")


def make_fetcher(opts):
    """(fetcher, server) as the lint command sets them up."""
    fetcher, env = planmod.environment(opts)
    return fetcher, env["server"]


def fake_kernel(max_cmdline=4096):
    """An s390 kernel as far as lint reads one: S390EP at 0x10008, the maximum
    command line size at 0x10430, zeros up to the legacy command line's end."""
    d = bytearray(0x10480 + 896)
    d[0x10008:0x1000E] = b"S390EP"
    struct.pack_into(">Q", d, 0x10430, max_cmdline)
    return bytes(d)


def fake_initrd():
    return gzip.compress(b"070701" + b"0" * 104 + b"TRAILER!!!\0", mtime=0)


def fake_bzimage():
    d = bytearray(4096)
    d[0:2] = b"MZ"
    d[0x202:0x206] = b"HdrS"
    return bytes(d)


def tree(tmp_path, files):
    for name, data in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(tmp_path)


def lint(root, **kw):
    fetcher, server = make_fetcher({"root": root})
    return Linter(fetcher, server, root=root, **kw).run()


def run_cli(*args):
    p = subprocess.run([sys.executable, "-m", "workstation"] + list(args), cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def test_stand_ins_are_what_the_readme_says():
    want = {"good/debian12/linux": fake_kernel(), "good/rescue/linux": fake_kernel(),
            "broken/debian12/linux": fake_kernel(), "broken/old/linux": fake_kernel(0),
            "broken/x86/vmlinuz": fake_bzimage(), "good/debian12/initrd.gz": fake_initrd(),
            "good/rescue/initrd.gz": fake_initrd(), "broken/debian12/initrd.gz": fake_initrd()}
    for name, data in want.items():
        with open(os.path.join(DATA, name), "rb") as f:
            assert f.read() == data, "%s is not the stand-in tests/testdata/lint/README.md describes" % name


def test_good_tree_has_no_findings():
    got = [str(f) for f in lint(os.path.join(DATA, "good")).sorted_findings()]
    assert got == [], "lint(good) = %r, want []" % got
    rc, out, err = run_cli("lint", os.path.join(DATA, "good"))
    assert (rc, out) == (0, "lint: 3 configs, 6 labels, 2 kernels checked: 0 errors, 0 warnings\n"), (rc, out, err)


def test_broken_tree_golden_output():
    rc, out, err = run_cli("lint", "tests/testdata/lint/broken")
    with open(os.path.join(DATA, "broken.expected")) as f:
        want = f.read()
    assert rc == 1 and err == "", (rc, err)
    assert out == want, "lint(broken) =\n%s\nwant (broken.expected)\n%s" % (out, want)


K = fake_kernel()
LABEL = "DEFAULT a\nLABEL a\n KERNEL k\n"

# (name, files, lint options, findings wanted (substrings of one line each, in order), errors)
CASES = [
    ("clean", {"pxelinux.cfg/default": LABEL, "k": K}, {}, [], 0),
    ("no pxelinux.cfg", {"k": K}, {}, ["pxelinux.cfg: error: no pxelinux.cfg directory"], 1),
    ("pxelinux.cfg under a prefix not given", {"s390x/pxelinux.cfg/default": LABEL}, {},
     ["pxelinux.cfg: error: no pxelinux.cfg directory: the agent finds no config (s390x/pxelinux.cfg is there: "
      "--bootfile s390x/pxelinux.0 names it)"], 1),
    ("config over CONFIG_LIMIT", {"pxelinux.cfg/default": LABEL + "#" * CONFIG_LIMIT + "\n", "k": K}, {},
     ["pxelinux.cfg/default: error: %d bytes: larger than the agent reads (%d, CONFIG_LIMIT)"
      % (len(LABEL) + CONFIG_LIMIT + 1, CONFIG_LIMIT)], 1),
    ("line over MAX_LINE", {"pxelinux.cfg/default": LABEL + "SAY " + "x" * 5000 + "\n", "k": K}, {},
     ["pxelinux.cfg/default:4: error: line longer than 4096 characters: cut"], 1),
    ("more than MAX_INCLUDE_FILES",
     {"pxelinux.cfg/default": LABEL + "INCLUDE e.cfg\n" * 129, "e.cfg": "# empty\n", "k": K}, {},
     ["pxelinux.cfg/default:132: error: more than 128 files INCLUDEd in one parse"], 1),
    ("INCLUDE deeper than 16",
     dict([("pxelinux.cfg/default", LABEL + "INCLUDE d1.cfg\n"), ("k", K)]
          + [("d%d.cfg" % i, "INCLUDE d%d.cfg\n" % (i + 1)) for i in range(1, 18)]), {},
     ["d16.cfg:1: error: INCLUDE nested deeper than 16 levels: d17.cfg not read"], 1),
    ("INCLUDE loop", {"pxelinux.cfg/default": LABEL + "INCLUDE pxelinux.cfg/default\n", "k": K}, {},
     ["pxelinux.cfg/default:4: error: INCLUDE loop (pxelinux.cfg/default is already being read)"], 1),
    ("missing INCLUDE is a warning", {"pxelinux.cfg/default": LABEL + "INCLUDE gone.cfg\n", "k": K}, {},
     ["pxelinux.cfg/default:4: warning: INCLUDE gone.cfg: not found: ignored"], 0),
    ("ELF vmlinux", {"pxelinux.cfg/default": LABEL, "k": b"\x7fELF\x02\x02\x01" + b"\0" * 11 + b"\x00\x16" + b"\0" * 100},
     {}, ["pxelinux.cfg/default:2: error: label a: KERNEL k is not an s390 kernel image: found an ELF file "
          "for s390 (an uncompressed vmlinux"], 1),
    ("empty kernel", {"pxelinux.cfg/default": LABEL, "k": b""}, {},
     ["label a: KERNEL k is not an s390 kernel image: found an empty file"], 1),
    ("corrupt command line size", {"pxelinux.cfg/default": LABEL, "k": fake_kernel(100)}, {},
     ["label a: KERNEL k is corrupt kernel header: maximum command line size 100"], 1),
    # 4096 bytes with the NUL: BOOT_IMAGE=k (12) + ' ' + 4083 is 4096 too many by one.
    ("command line one byte too long", {"pxelinux.cfg/default": LABEL + " APPEND " + "x" * 4083 + "\n", "k": K},
     {}, ["label a: the command line is 4096 bytes, KERNEL k takes at most 4095"], 1),
    ("command line that just fits", {"pxelinux.cfg/default": LABEL + " APPEND " + "x" * 4082 + "\n", "k": K},
     {}, [], 0),
    # IPAPPEND 1 counts at its longest: ip= with four 15-character addresses.
    ("IPAPPEND strings counted", {"pxelinux.cfg/default": LABEL + " IPAPPEND 1\n APPEND " + "x" * 4020 + "\n",
                                  "k": K}, {}, ["label a: the command line is 4100 bytes"], 1),
    ("initrd= in APPEND", {"pxelinux.cfg/default": LABEL + " APPEND initrd=i1,i2\n", "k": K, "i1": b"x"}, {},
     ["pxelinux.cfg/default:2: error: label a: INITRD i2 not found"], 1),
    # ldlinux.c get_extension finds no vmlinuz.c32 ... vmlinuz.0, and vmlinuz fails to load
    ("DEFAULT names no label and no file", {"pxelinux.cfg/default": "DEFAULT vmlinuz quiet\n"}, {},
     ["pxelinux.cfg/default: error: nothing boots unattended: Loading vmlinuz... failed: no such file on the server"],
     1),
    ("DEFAULT menu without UI runs menu.c32 when the server has it",
     {"pxelinux.cfg/default": "DEFAULT menu\nTIMEOUT 50\nONTIMEOUT a\nLABEL a\n KERNEL k\n", "k": K,
      "menu.c32": "x"}, {}, [], 0),
    ("LOCALBOOT and chain.c32 boot the installed system",
     {"pxelinux.cfg/default": "DEFAULT l\nLABEL l\n LOCALBOOT 0\nLABEL c\n COM32 chain.c32\n APPEND hd0\n"}, {},
     [], 0),
    ("an empty config boots the installed system", {"pxelinux.cfg/default": "# nothing but a comment\n"}, {},
     [], 0),
    ("nothing boots unattended", {"pxelinux.cfg/default": "PROMPT 1\nLABEL a\n KERNEL k\n", "k": K}, {},
     ["pxelinux.cfg/default: warning: nothing boots unattended: No DEFAULT or UI configuration directive found!"],
     0),
    ("menu entries that boot nothing are not checked",
     {"pxelinux.cfg/default": "UI menu.c32\nLABEL a\n KERNEL k\nMENU BEGIN m\nLABEL back\n MENU EXIT\nMENU END\n"
      "LABEL off\n MENU DISABLE\n", "k": K}, {}, [], 0),
    ("CONFIG to a missing file", {"pxelinux.cfg/default": "DEFAULT a\nLABEL a\n CONFIG other.cfg\n"}, {},
     ["pxelinux.cfg/default:2: error: CONFIG other.cfg not found"], 1),
    ("CONFIG target linted with its directory",
     {"pxelinux.cfg/default": "DEFAULT a\nLABEL a\n CONFIG sub/x.cfg sub/\n",
      "sub/x.cfg": "DEFAULT b\nLABEL b\n KERNEL k\n KERNEL k2\nLABEL c\n KERNEL gone\n", "sub/k2": K}, {},
     ["sub/x.cfg:5: error: label c: KERNEL sub/gone not found"], 1),
    ("TEXT HELP lines are not labels",
     {"pxelinux.cfg/default": "DEFAULT a\nLABEL a\n TEXT HELP\nLABEL fake\n ENDTEXT\n KERNEL k\nLABEL b\n KERNEL gone\n",
      "k": K}, {}, ["pxelinux.cfg/default:7: error: label b: KERNEL gone not found"], 1),
    ("names never asked for",
     {"pxelinux.cfg/default": LABEL, "k": K, "pxelinux.cfg/52-54-00-12-34-56": LABEL,
      "pxelinux.cfg/01:52:54:00:12:34:56": LABEL, "pxelinux.cfg/2a9f0c5e-1b3d-0c2e-8f00-0123456789ab": LABEL,
      "pxelinux.cfg/DEFAULT": LABEL, "pxelinux.cfg/2A9F0C5E-1B3D-4C2E-8F00-0123456789AB": LABEL}, {},
     ["pxelinux.cfg/01:52:54:00:12:34:56: warning: never read: looks like a MAC address, but the agent asks for "
      "01-52-54-00-12-34-56",
      "pxelinux.cfg/2A9F0C5E-1B3D-4C2E-8F00-0123456789AB: warning: never read: the agent asks for UUID names in "
      "lower case (2a9f0c5e-1b3d-4c2e-8f00-0123456789ab)",
      "pxelinux.cfg/52-54-00-12-34-56: warning: never read: looks like a MAC address, but the agent asks for "
      "01-52-54-00-12-34-56",
      "pxelinux.cfg/DEFAULT: warning: never read: the agent asks for 'default' in lower case",
      "pxelinux.cfg/2a9f0c5e-1b3d-0c2e-8f00-0123456789ab: warning: never read: UUID "
      "2a9f0c5e-1b3d-0c2e-8f00-0123456789ab is not valid (byte 6 is 0x0c"], 0),
    ("a valid UUID name is read", {"pxelinux.cfg/2a9f0c5e-1b3d-4c2e-8f00-0123456789ab": LABEL + "FROB\n", "k": K},
     {}, ["pxelinux.cfg/2a9f0c5e-1b3d-4c2e-8f00-0123456789ab:4: warning: unknown directive FROB: ignored"], 0),
    ("DISPLAY missing, DISPLAY file not an orphan",
     {"pxelinux.cfg/default": LABEL + "DISPLAY pxelinux.cfg/boot.msg\nDISPLAY gone.msg\n", "k": K,
      "pxelinux.cfg/boot.msg": "hello\n"}, {}, ["pxelinux.cfg/default: warning: DISPLAY gone.msg: not found"], 0),
    ("orphan in a subdirectory", {"pxelinux.cfg/default": LABEL, "k": K, "pxelinux.cfg/old/x.cfg": LABEL}, {},
     ["pxelinux.cfg/old/x.cfg: warning: never read: not a name the agent searches for"], 0),
    ("a prefix from the boot file name",
     {"s390x/pxelinux.cfg/default": "DEFAULT a\nLABEL a\n KERNEL k\n INITRD i\n", "s390x/k": K, "k": K},
     {"prefix": "::s390x/"}, ["s390x/pxelinux.cfg/default:2: error: label a: INITRD s390x/i not found"], 1),
    ("--configs-only", {"pxelinux.cfg/default": LABEL + " INITRD gone\nLABEL x\n KERNEL x.c32\nFROB\n"},
     {"configs_only": True}, ["pxelinux.cfg/default:5: error: label x: x.c32 is a COM32 module",
                              "pxelinux.cfg/default:7: warning: unknown directive FROB: ignored"], 1),
    ("option 209 missing", {"pxelinux.cfg/default": LABEL, "k": K}, {"opt209": "site.cfg"},
     ["site.cfg: warning: not found: the agent goes on with the search names"], 0),
    ("option 209 read first", {"site.cfg": "DEFAULT a\nLABEL a\n KERNEL gone\n"}, {"opt209": "site.cfg"},
     ["site.cfg:2: error: label a: KERNEL gone not found"], 1),
]


def agent_image(initrd=None):
    """A boot file as `packager build` lays it out: kernel, initramfs appended at a 4 KiB boundary."""
    from packager import s390image
    return s390image.make_image(K, fake_initrd() if initrd is None else initrd)


# The boot file the firmware loads (QEMU pc-bios/s390-ccw netmain.c: without a
# kernel it falls back to reading pxelinux.cfg itself).
CASES += [
    ("boot file: the agent image", {"pxelinux.cfg/default": LABEL, "k": K, "pxelinux.0": agent_image()}, {}, [], 0),
    ("boot file: x86 PXELINUX", {"pxelinux.cfg/default": LABEL, "k": K, "pxelinux.0": b"\xfa\xea" + b"\0" * 40000},
     {}, ["pxelinux.0: error: boot file is not an s390 kernel image: found a 40002-byte file, too small for an s390 "
          "kernel image; an s390x guest needs an s390 kernel with the agent's initramfs appended"], 1),
    ("boot file: a kernel alone", {"pxelinux.cfg/default": LABEL, "k": K, "pxelinux.0": K}, {},
     ["pxelinux.0: error: boot file is an s390 kernel with no initramfs appended (0 at 0x10410)"], 1),
    ("boot file: cut short", {"pxelinux.cfg/default": LABEL, "k": K, "pxelinux.0": agent_image()[:-20]}, {},
     ["pxelinux.0: error: boot file: truncated image: the initramfs should span bytes"], 1),
    ("boot file: not an initramfs", {"pxelinux.cfg/default": LABEL, "k": K,
                                     "pxelinux.0": agent_image(b"PK\3\4" + b"\0" * 60)}, {},
     ["pxelinux.0: error: boot file: the initramfs at offset 69632 starts with 504b030400000000"], 1),
    ("boot file named and missing", {"s390x/pxelinux.cfg/default": LABEL, "s390x/k": K},
     {"bootfile": "s390x/pxelinux.0", "prefix": "::s390x/"},
     ["s390x/pxelinux.0: error: boot file not found: the firmware then reads pxelinux.cfg itself"], 1),
    ("no config any machine finds", {"pxelinux.cfg/01-52-54-00-AB-CD-EF": LABEL, "k": K}, {},
     ["pxelinux.cfg/01-52-54-00-AB-CD-EF: warning: never read: the agent asks for MAC names in lower case",
      "pxelinux.cfg/: error: no file here is one the agent searches for (default, 01-<mac> in lower case, "
      "upper-case hex IP, a valid UUID): every machine stops with 'no config found'"], 1),
    ("a URL with a bad port", {"pxelinux.cfg/default": "DEFAULT a\nLABEL a\n KERNEL tftp://h:/k\n"}, {},
     ["pxelinux.cfg/default:2: error: label a: KERNEL tftp://h:/k cannot be read: tftp://h:/k: bad URL"], 1),
    ("boot file not named, none in the tree", {"pxelinux.cfg/default": LABEL, "k": K}, {}, [], 0),
    ("boot file: --configs-only does not read it", {"pxelinux.cfg/default": LABEL, "pxelinux.0": K},
     {"configs_only": True}, [], 0),
]


@pytest.mark.parametrize("name,files,opts,want,errors", CASES, ids=[c[0] for c in CASES])
def test_findings(tmp_path, name, files, opts, want, errors):
    linter = lint(tree(tmp_path, files), **opts)
    got = [str(f) for f in linter.sorted_findings()]
    matched = [w for w in want if any(w in g for g in got)]
    assert matched == want and len(got) == len(want), "lint(%s) = %r, want %r" % (name, got, want)
    assert linter.counts()[0] == errors, "lint(%s).errors = %d, want %d" % (name, linter.counts()[0], errors)


MALFORMED = os.path.join(ROOT, "tests", "testdata", "malformed")


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(MALFORMED) if n.endswith(".cfg")))
def test_malformed_corpus_never_crashes(tmp_path, name):
    """Each file of tests/testdata/malformed as pxelinux.cfg/default: findings, no exception."""
    with open(os.path.join(MALFORMED, name), "rb") as f:
        data = f.read()
    linter = lint(tree(tmp_path, {"pxelinux.cfg/default": data, "k": K}))
    for f in linter.sorted_findings():
        assert f.severity in ("error", "warning") and "\n" not in str(f), "lint(%s) gave %r" % (name, str(f))
    json.dumps(linter.as_dict())


from hypothesis import given, settings, strategies as st  # noqa: E402

WORDS = ["LABEL a", "LABEL b", "KERNEL k", "KERNEL x.c32", "INITRD k", "APPEND x", "DEFAULT a", "UI menu.c32",
         "MENU HIDE", "MENU DEFAULT", "INCLUDE pxelinux.cfg/default", "INCLUDE inc.cfg", "CONFIG inc.cfg",
         "NOESCAPE 1", "IPAPPEND 7", "LOCALBOOT 0", "MENU BEGIN", "MENU END", "TEXT HELP", "ENDTEXT",
         "MENU GOTO x", "ONTIMEOUT b", "ONERROR a", "DISPLAY m", "PROMPT 1", "TIMEOUT 0", "\x00", "\r", "\xff"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=20), max_size=25),
       st.lists(st.sampled_from(WORDS), max_size=10))
def test_lint_never_crashes(tmp_path_factory, main, inc):
    root = tree(tmp_path_factory.mktemp("t"), {"pxelinux.cfg/default": "\n".join(main), "inc.cfg": "\n".join(inc),
                                               "k": K})
    linter = lint(root)
    assert all(f.severity in ("error", "warning") for f in linter.sorted_findings())


@pytest.mark.parametrize("name,want", [
    ("default", "default"), ("01-52-54-00-12-34-56", "mac"), ("C000020A", "ip"), ("C", "ip"),
    ("2a9f0c5e-1b3d-4c2e-8f00-0123456789ab", "uuid"), ("c000020a", None), ("C000020A0", None),
    ("01-52-54-00-12-34-5G", None), ("menu.cfg", None), ("01-52-54-00-AB-CD-EF", None),
])
def test_search_name(name, want):
    got = search_name(name)[0]
    assert got == want, "search_name(%r) = %r, want %r" % (name, got, want)


def test_findings_use_the_parsers_notes():
    """Every note the parser writes for the broken tree is a finding at the same file:line."""
    root = os.path.join(DATA, "broken")
    linter = lint(root)
    lines = [str(f) for f in linter.sorted_findings()]
    fetcher, server = make_fetcher({"root": root})
    text = fetcher.read("tftp://localhost/pxelinux.cfg/default")

    def load(name):
        try:
            return fetcher.read("tftp://localhost/" + name)
        except NotFound:
            return None
    cfg = pxeconfig.parse(text, "pxelinux.cfg/default", load, key=lambda n: n)
    assert cfg.notes
    for note in cfg.notes:
        where, msg = pxeconfig.note_text(note).split(": ", 1)
        assert any(line.startswith(where + ": ") and line.endswith(msg) for line in lines), \
            "lint(broken) has no line for the note %r" % note


@pytest.mark.parametrize("args,rc", [
    (["tests/testdata/lint/good"], 0),
    (["tests/testdata/lint/broken"], 1),
    (["tests/testdata/lint/broken", "--strict"], 1),
    (["tests/testdata/pxelinux/debian-installer"], 1),
    (["tests/testdata/pxelinux/debian-installer", "--configs-only"], 0),
])
def test_exit_codes(args, rc):
    got, out, err = run_cli("lint", *args)
    assert got == rc, "lint(%s) exit = %d, want %d (%s)" % (args, got, rc, err)


def test_warnings_only_exit_0_unless_strict(tmp_path):
    root = tree(tmp_path, {"pxelinux.cfg/default": LABEL + "FROB\n", "k": K})
    assert run_cli("lint", root)[0] == 0
    rc, out, err = run_cli("lint", root, "--strict")
    assert rc == 1 and out.endswith("0 errors, 1 warning\n"), (rc, out)


def test_json():
    rc, out, err = run_cli("lint", "tests/testdata/lint/broken", "--json")
    d = json.loads(out)
    assert sorted(d) == ["configs", "errors", "findings", "labels", "warnings"]
    assert (rc, d["errors"], d["warnings"]) == (1, 6, 9)
    assert d["configs"] == ["pxelinux.cfg/C0000214", "pxelinux.cfg/C0000216", "pxelinux.cfg/default"]
    assert d["findings"][1] == {"file": "pxelinux.cfg/C0000214", "line": 6, "severity": "warning",
                                "message": "label debug can never be chosen: NOESCAPE 1 and there is no menu"}


@pytest.mark.parametrize("args,want", [
    ([], "the following arguments are required: COMMAND"),
    (["frob"], "invalid choice: 'frob'"),
    (["lint"], "lint needs TREE or --server HOST[:PORT]"),
    (["lint", "tests", "--server", "192.0.2.1"], "lint needs TREE or --server HOST[:PORT]"),
    (["lint", "/nonexistent"], "TREE /nonexistent is not a directory"),
    (["lint", "tests", "--mac", "xx"], "MAC address 'xx'"),
    (["lint", "tests", "--bogus"], "unrecognized arguments: --bogus"),
    (["test", "tests/testdata/lint/good"], "test needs TREE and CASES"),
    (["lint", "--server", "127.0.0.1:"], "server '127.0.0.1:': port '' is not a number from 1 to 65535"),
    (["lint", "--server", "127.0.0.1:99999"], "port '99999' is not a number from 1 to 65535"),
    (["test", "--server", "[::1]x", "tests/testdata/lint/good.toml"], "want HOST, HOST:PORT or [IPV6]:PORT"),
    (["plan", "--root"], "s390-netboot: --root needs a value (see s390-netboot --help)"),
    (["fetch"], "s390-netboot: fetch takes one URL (see s390-netboot --help)"),
])
def test_bad_usage_one_line_exit_2(args, want):
    rc, out, err = run_cli(*args)
    assert rc == 2 and out == "" and err.count("\n") == 1 and want in err, \
        "s390-netboot%s = (%d, %r), want (2, %r)" % (["", " "][bool(args)] + " ".join(args), rc, err, want)


@pytest.mark.parametrize("verb", [None, "plan", "fetch", "lint", "test"])
def test_help_on_every_verb(verb, capsys):
    args = ([verb] if verb else []) + ["--help"]
    rc = cli.run(args)
    out = capsys.readouterr().out
    want = "usage: s390-netboot" + (" " + verb if verb else "")
    assert rc == 0 and out.startswith(want), "s390-netboot %s = %d, %r, want 0, %r" % (args, rc, out[:60], want)
    assert "python -m agent" not in out


def test_plan_and_fetch_are_the_agents():
    rc, out, err = run_cli("plan", "--root", "tests/testdata/lint/good", "--mac", "52:54:00:12:34:56", "--json")
    p = subprocess.run([sys.executable, "-m", "agent", "plan", "--root", "tests/testdata/lint/good",
                        "--mac", "52:54:00:12:34:56", "--json"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert rc == 0 and out == p.stdout and json.loads(out)["label"] == "rescue"


def test_lint_does_not_grow_the_image():
    """The frozen agent is agent/ only; the workstation code is not in it."""
    with open(os.path.join(ROOT, "agent", "manifest.py")) as f:
        assert '"agent"' in f.read()
    for name in os.listdir(os.path.join(ROOT, "agent")):
        if name.endswith(".py"):
            with open(os.path.join(ROOT, "agent", name)) as f:
                text = f.read()
                assert "import workstation" not in text and "from workstation" not in text, \
                    "agent/%s imports workstation" % name


def test_no_build_toolchain_imported():
    code = ("import sys, workstation.cli, workstation.lint, workstation.cases; "
            "bad = [m for m in ('elftools', 'libarchive', 'ziglang') if m in sys.modules]; print(bad)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    assert p.stdout == "[]\n", p.stdout


# A real distribution tree: Debian 12's amd64 netboot tree (the debian_tree fixture of tests/conftest.py).


def mirror(src, dest, replace):
    """dest: a copy of src's small files (configs: a test may change them) and
    symlinks to its big ones, and to replace[name] instead of name."""
    for top, dirs, files in os.walk(src, followlinks=True):
        rel = os.path.relpath(top, src)
        os.makedirs(os.path.join(dest, rel), exist_ok=True)
        for name in files:
            r = os.path.normpath(os.path.join(rel, name))
            path = replace.get(r, os.path.join(top, name))
            if r not in replace and os.path.getsize(path) < 65536:
                shutil.copyfile(path, os.path.join(dest, r))
            else:
                os.symlink(path, os.path.join(dest, r))
    return dest


@pytest.mark.slow
@pytest.mark.parts
@pytest.mark.parametrize("flavour", ["text", "gtk"])
def test_debian_tree_as_shipped(debian_tree, flavour):
    """Every error is the x86 kernel, named as such; the rest parses (a few warnings:
    INCLUDEs of the other flavour's files, mainmenu/help labels defined twice)."""
    linter = lint(os.path.join(debian_tree, flavour))
    errors = [str(f) for f in linter.sorted_findings() if f.severity == "error"]
    boot = [e for e in errors if e.startswith("pxelinux.0:")]
    assert boot == ["pxelinux.0: error: boot file is not an s390 kernel image: found Syslinux's PXELINUX for x86 "
                    "PCs (PXELINUX 6.04); an s390x guest needs an s390 kernel with the agent's initramfs appended "
                    "(`packager build`)"], boot
    errors = [e for e in errors if e not in boot]
    assert errors and all("KERNEL debian-installer/amd64/linux is not an s390 kernel image: found an x86 "
                          "Linux kernel (bzImage)" in e for e in errors), "lint(debian %s) errors = %r" % (flavour, errors)
    assert "debian-installer/amd64/boot-screens/prompt.cfg" in linter.configs
    assert linter.labels > 20


@pytest.mark.slow
@pytest.mark.parts
def test_debian_tree_with_an_s390_kernel(debian_tree, s390x, tmp_path):
    """The same tree with Debian's real s390x kernel where the x86 one was, and an agent
    image (that kernel, an initramfs appended) for Syslinux's x86 pxelinux.0: no errors,
    and the command lines are measured against that kernel's own header (4096)."""
    from packager import s390image
    boot = tmp_path / "pxelinux.0"
    boot.write_bytes(s390image.make_image(open(s390x.kernel, "rb").read(), fake_initrd()))
    root = mirror(os.path.join(debian_tree, "text"), str(tmp_path / "tree"),
                  {"debian-installer/amd64/linux": s390x.kernel, "pxelinux.0": str(boot)})
    linter = lint(root)
    errors = [str(f) for f in linter.sorted_findings() if f.severity == "error"]
    assert errors == [], "lint(debian text, s390x kernel) errors = %r, want []" % errors
    txt = os.path.join(root, "debian-installer/amd64/boot-screens/txt.cfg")
    assert not os.path.islink(txt)
    with open(txt, "a") as f:
        f.write("label long\n\tkernel debian-installer/amd64/linux\n\tappend %s\n" % ("x" * 4080))
    errors = [str(f) for f in lint(root).sorted_findings() if f.severity == "error"]
    assert len(errors) == 1 and "KERNEL debian-installer/amd64/linux takes at most 4095" in errors[0], errors


@pytest.mark.slow
@pytest.mark.system
def test_pip_install_in_a_fresh_venv(tmp_path):
    """`python3 -m venv x && x/bin/pip install .` gives a working s390-netboot, without
    the image-building dependencies. The source is copied first: pip builds in the
    tree it is given (build/, *.egg-info)."""
    src = tmp_path / "src"
    os.makedirs(src)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    for pkg in ("agent", "packager", "workstation"):
        shutil.copytree(os.path.join(ROOT, pkg), src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    p = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(src)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:]
    exe = str(venv / "bin" / "s390-netboot")
    for args, rc in ((["lint", os.path.join(DATA, "good")], 0),
                     (["test", os.path.join(DATA, "good"), os.path.join(DATA, "good.toml")], 0),
                     (["lint", os.path.join(DATA, "broken")], 1)):
        q = subprocess.run([exe] + args, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        assert q.returncode == rc, "s390-netboot %s = %d, want %d: %s" % (args, q.returncode, rc, q.stderr)
    # The packager command is installed too; without the build extra it says so in one line.
    q = subprocess.run([str(venv / "bin" / "packager"), "build", "--agent", "agent"], cwd=str(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert q.returncode == 2 and q.stderr.count("\n") == 1 and "pip install 's390-netboot[build]'" in q.stderr, \
        q.stderr
    import glob
    assert glob.glob(str(venv / "lib" / "python*" / "site-packages" / "packager" / "cmod" / "tftprx" / "tftprx.c")), \
        "pip install . left out packager/cmod (the interpreter's C modules)"
    listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=freeze"], stdout=subprocess.PIPE,
                            text=True).stdout
    for dep in ("pyelftools", "libarchive-c", "ziglang"):
        assert dep not in listed, "pip install . installed %s; want it only with the build extra" % dep


@pytest.fixture
def tftp_server():
    """A tftpy server on 127.0.0.1 serving the trees of tests/testdata/lint; its port."""
    import socket
    import time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    code = ("import logging, tftpy; logging.disable(logging.CRITICAL); "
            "tftpy.TftpServer(%r).listen('127.0.0.1', %d)" % (DATA, port))
    p = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(0.5)
    yield port
    p.terminate()
    p.wait()


def test_boot_file_unreadable_to_a_server_running_as_nobody(tmp_path):
    """Mode 0600 (a build as root with a strict umask): dnsmasq or atftpd as nobody cannot send it,
    and QEMU's firmware silently reads pxelinux.cfg itself instead."""
    root = tree(tmp_path, {"pxelinux.cfg/default": LABEL, "k": K, "pxelinux.0": agent_image()})
    os.chmod(os.path.join(root, "pxelinux.0"), 0o600)
    got = [str(f) for f in lint(root).sorted_findings()]
    assert len(got) == 1 and got[0].startswith("pxelinux.0: error: boot file is not readable by others "
                                               "(mode 0600)") and "chmod a+r" in got[0], got
    os.chmod(os.path.join(root, "pxelinux.0"), 0o644)
    assert lint(root).counts() == (0, 0)


def test_lint_a_live_server(tftp_server):
    """--server: the configs the identity's search names find, read over TFTP with the agent's client."""
    args = ["lint", "--server", "127.0.0.1:%d" % tftp_server, "--mac", "52:54:00:12:34:56",
            "--ip", "192.0.2.33", "--opt210", "good/"]
    rc, out, err = run_cli(*args)
    assert (rc, out) == (0, "lint: 3 configs, 6 labels, 2 kernels checked: 0 errors, 0 warnings\n"), (rc, out, err)
    rc, out, err = run_cli("lint", "--server", "127.0.0.1:%d" % tftp_server, "--opt210", "broken/")
    # The names are the server's, under the prefix: without it, the lines of broken.expected
    # for the files the default config reaches.
    want = [line for line in open(os.path.join(DATA, "broken.expected")).read().splitlines()
            if line.startswith(("pxelinux.cfg/default", "pxelinux.cfg/labels.cfg", "pxelinux.cfg/loop"))]
    got = [line.replace("broken/", "") for line in out.splitlines()]
    assert rc == 1 and got[:-1] == want, "lint(--server, broken) =\n%s\nwant\n%s" % (out, "\n".join(want))


def test_live_server_downloads_are_bounded(monkeypatch):
    """lint --server reads a kernel whole up to DOWNLOAD_LIMIT (beyond: one error line, not an
    endless download), and learns that an initrd exists from its first bytes."""
    from tests.support import hostile
    from workstation import tree as treemod
    big = K + b"\0" * 200000
    files = {"pxelinux.cfg/default": (LABEL + " INITRD i\n").encode(), "k": big, "i": b"\0" * 300000}
    with hostile.Tftp("files", error=(1, "File not found"), files=files, interval=0.001) as srv:
        fetcher, server = make_fetcher({"server": "127.0.0.1:%d" % srv.port})
        monkeypatch.setattr(treemod, "DOWNLOAD_LIMIT", 100000)
        linter = Linter(fetcher, server, root=None).run()
        got = [str(f) for f in linter.sorted_findings()]
        assert len(got) == 1 and "label a: KERNEL k cannot be read" in got[0] and "100000" in got[0], got
        monkeypatch.setattr(treemod, "DOWNLOAD_LIMIT", 1 << 20)
        linter = Linter(fetcher, server, root=None).run()
        assert linter.counts() == (0, 0), [str(f) for f in linter.sorted_findings()]


def test_findings_show_control_characters_escaped(tmp_path):
    # Words end at bytes <= ' ' (my_isspace), so only C1 controls (U+009B is CSI) stay in one.
    root = tree(tmp_path, {"pxelinux.cfg/default": LABEL + "FROB\u009b2J\n", "k": K})
    rc, out, err = run_cli("lint", root)
    assert "\u009b" not in out and "unknown directive FROB\\x9b2J" in out, repr(out)
