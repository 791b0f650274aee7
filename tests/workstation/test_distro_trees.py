"""`plan` over real distribution netboot trees, with golden answers worked out
from Syslinux 6.04's code (not from what the agent printed).

Debian's debian-installer-12-netboot-amd64 package is fetched with apt
through packager.debian's private configuration (the `debian_tree`
fixture of tests/conftest.py, the same cache as the s390x parts) and unpacked once into the
cache. Debian has no such package for s390x (its s390x installer is booted
from generic.ins/parmfiles, with no pxelinux.cfg), so the amd64 tree stands
for what sites copy into their TFTP roots. A new Debian point release may
change these menus; the answers then need working out again.
"""

import os

import pytest

from agent import plan as planmod
from agent.fetch import LocalFetcher, SchemeFetcher

pytestmark = [pytest.mark.slow, pytest.mark.parts]

ENV = {"mac": "52:54:00:12:34:56", "ip": "192.0.2.10", "netmask": "255.255.255.0",
       "gateway": "192.0.2.1", "server_ip": "192.0.2.1", "server": "localhost"}
D = "debian-installer/amd64/"
INITRD = D + "initrd.gz"

# (flavour, typed at the boot: prompt or None, want: (config, label, kernel, initrd, cmdline) or an error)
CASES = [
    # pxelinux.cfg/default: PROMPT 0, and the last DEFAULT is vesamenu.c32 (ldlinux.c:main ->
    # ldlinux_auto_boot -> load_kernel: a .c32 that is no label). menu.c32 ignores DEFAULT
    # without a UI line (readconfig.c:parse_configs, has_ui); drk.cfg's MENU DEFAULT is the
    # "dark" submenu's (record: m is that menu), so the root menu starts on its first entry,
    # txt.cfg's "install". TIMEOUT 0: the menu waits (menumain.c:run_menu); Enter boots it.
    ("text", None, ("pxelinux.cfg/default", "install", D + "linux", [INITRD],
                    "BOOT_IMAGE=%slinux vga=788 initrd=%s --- quiet" % (D, INITRD))),
    # find_label: a label anywhere (here in the "advanced" submenu) boots when typed.
    ("text", "expert", ("pxelinux.cfg/default", "expert", D + "linux", [INITRD],
                        "BOOT_IMAGE=%slinux priority=low vga=788 initrd=%s ---" % (D, INITRD))),
    # "help" is CONFIG prompt.cfg (execute.c: a new ldlinux): PROMPT 1, TIMEOUT 0, and the only
    # DEFAULT is drk.cfg's "default installdark" inside a label (readconfig.c: DEFAULT is
    # global wherever it is): the prompt waits, Enter runs ldlinux_auto_boot -> installdark.
    ("text", "help", (D + "boot-screens/prompt.cfg", "installdark", D + "linux", [INITRD],
                      "BOOT_IMAGE=%slinux vga=788 initrd=%s theme=dark --- quiet" % (D, INITRD))),
    # "mainmenu" is a MENU EXIT entry (the first of that name): nothing to run.
    ("text", "mainmenu", "label mainmenu is a MENU EXIT entry: it boots nothing"),
    # The gtk flavour's spk.cfg, included at the root, sets the root menu's TIMEOUT 300 and
    # ONTIMEOUT (menu.c32 readconfig.c: m->timeout, m->ontimeout): after 30 s the menu runs
    # that command line, a kernel named directly (no label), speech synthesis on.
    ("gtk", None, ("pxelinux.cfg/default", None, D + "linux", [INITRD],
                   "BOOT_IMAGE=%slinux vga=788 initrd=%s speakup.synth=soft --- quiet" % (D, INITRD))),
    ("gtk", "installspk", ("pxelinux.cfg/default", "installspk", D + "linux", [INITRD],
                           "BOOT_IMAGE=%slinux vga=788 initrd=%s speakup.synth=soft --- quiet" % (D, INITRD))),
]


def plan_of(root, typed):
    local = LocalFetcher(root)
    fetcher = SchemeFetcher({"tftp": local, "http": local})
    try:
        d = planmod.make_plan(fetcher, dict(ENV), typed).as_dict()
    except planmod.PlanError as e:
        return str(e)
    return (d["config"], d["label"], d["kernel"], d["initrd"], d["cmdline"])


@pytest.mark.parametrize("flavour,typed,want", CASES)
def test_debian_amd64_netboot(debian_tree, flavour, typed, want):
    root = os.path.join(debian_tree, flavour)
    assert os.path.isdir(os.path.join(root, "pxelinux.cfg")), os.listdir(root)
    got = plan_of(root, typed)
    assert got == want, "plan(debian %s, typed=%r) = %r, want %r" % (flavour, typed, got, want)
