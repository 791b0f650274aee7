"""Config search, prefix and file names as Syslinux 6.04's code decides them
(core/fs/pxe/pxe.c, core/fs/pxe/urlparse.c, core/sysappend.c,
com32/elflink/ldlinux/execute.c). Runs under CPython and MicroPython."""

from agent import plan as planmod
from agent import search
from agent.fetch import NotFound

MAC = "52:54:00:12:34:56"
VALID = "2a9f0c5e-1b3d-4c2e-8f00-0123456789ab"      # byte 6 = 0x4c
NIL = "00000000-0000-0000-0000-000000000000"        # byte 6 = 0x00
TYPE_F = "2a9f0c5e-1b3d-f02e-8f00-0123456789ab"     # byte 6 = 0xf0
TYPE_1 = "2a9f0c5e-1b3d-102e-8f00-0123456789ab"     # byte 6 = 0x10
TYPE_E = "2a9f0c5e-1b3d-ef2e-8f00-0123456789ab"     # byte 6 = 0xef
ENV = {"mac": MAC, "ip": "192.0.2.10", "netmask": "255.255.255.0", "gateway": "192.0.2.1",
       "server_ip": "192.0.2.1", "server": "192.0.2.1"}


def check(got, want, call):
    assert got == want, "%s = %r, want %r" % (call, got, want)


class Mem:
    """A fetcher over {tftp-or-http URL: text}; every URL read is recorded."""

    def __init__(self, files):
        self.files = files
        self.reads = []

    def read(self, url, limit=1 << 20):
        self.reads.append(url)
        if url not in self.files:
            raise NotFound(url)
        return self.files[url].encode()


def plan_of(files, env=None, label=None):
    e = dict(ENV)
    e.update(env or {})
    return planmod.make_plan(Mem(files), e, label)


def test_valid_uuid():
    # sysappend.c:is_valid_uuid: byte 6 in 0x10..0xef.
    cases = [(VALID, True), (NIL, False), (TYPE_F, False), (TYPE_1, True), (TYPE_E, True),
             ("2a9f0c5e-1b3d-0f2e-8f00-0123456789ab", False)]
    for uuid, want in cases:
        check(search.valid_uuid(uuid), want, "valid_uuid(%r)" % uuid)


def test_probe_names_skip_an_invalid_uuid():
    # pxe.c:pxe_open_config tries pxelinux.cfg/<uuid> only when
    # sysappend.c:sysappend_set_uuid made SYSUUID=, i.e. the UUID is valid.
    tail = ["pxelinux.cfg/01-52-54-00-12-34-56", "pxelinux.cfg/default"]
    cases = [
        (dict(mac=MAC, uuid=VALID), ["pxelinux.cfg/" + VALID] + tail),
        (dict(mac=MAC, uuid=NIL), tail),
        (dict(mac=MAC, uuid=TYPE_F), tail),
        (dict(mac=MAC, uuid=TYPE_E.upper()), ["pxelinux.cfg/" + TYPE_E] + tail),
    ]
    for kw, want in cases:
        check(search.probe_names(**kw), want, "probe_names(%r)" % kw)


def test_invalid_uuid_in_a_plan():
    # pxe.c:pxe_open_config + sysappend.c:is_valid_uuid: not tried, noted.
    files = {"tftp://192.0.2.1/pxelinux.cfg/default": "DEFAULT a\nLABEL a\n KERNEL k\n"}
    p = plan_of(files, {"uuid": NIL})
    got = [search.display(u, p.server) for u in p.tried]
    want = ["pxelinux.cfg/01-52-54-00-12-34-56", "pxelinux.cfg/C000020A", "pxelinux.cfg/C000020",
            "pxelinux.cfg/C00002", "pxelinux.cfg/C0000", "pxelinux.cfg/C000", "pxelinux.cfg/C00",
            "pxelinux.cfg/C0", "pxelinux.cfg/C", "pxelinux.cfg/default"]
    check(got, want, "make_plan(uuid=%r).tried" % NIL)
    assert any("not valid" in n for n in p.notes), "make_plan(uuid=%r).notes = %r, want a note" % (NIL, p.notes)


def test_bootfile_prefix():
    # pxe.c:get_prefix: up to and including the last character that is not
    # [A-Za-z0-9.-] after OR-ing 0x20 (so \r, \x0e and \x10-\x19 pass as name
    # characters, as '-', '.' and digits do).
    cases = [
        ("pxelinux.0", ""),
        ("s390x/pxelinux.0", "s390x/"),
        ("boot\\pxelinux.0", "boot\\"),
        ("a/b/c.0", "a/b/"),
        ("dir_x/pxe_linux.0", "dir_x/pxe_"),
        ("host:pxelinux.0", "host:"),
        ("a+b", "a+"),
        ("ABC-def.0", ""),
        ("a/b\rc", "a/"),
        ("", ""),
        (None, ""),
        ("trailing/", "trailing/"),
    ]
    for bootfile, want in cases:
        check(search.bootfile_prefix(bootfile), want, "bootfile_prefix(%r)" % bootfile)


def test_prefix():
    # pxe.c:get_prefix: option 210, else the boot file's prefix; one that
    # urlparse.c:url_type calls URL_SUFFIX is made '::'-absolute.
    cases = [
        ((None, None), "::"),
        (("boot\\pxelinux.0", None), "::boot\\"),
        (("s390x/pxelinux.0", None), "::s390x/"),
        (("s390x/pxelinux.0", "site/"), "::site/"),
        (("s390x/pxelinux.0", "::site/"), "::site/"),
        (("s390x/pxelinux.0", "other::site/"), "other::site/"),
        (("s390x/pxelinux.0", "http://web/s390/"), "http://web/s390/"),
        (("s390x/pxelinux.0", "tftp://other/s390/"), "tftp://other/s390/"),
        (("s390x/pxelinux.0", "odd:name/"), "::odd:name/"),
    ]
    for args, want in cases:
        check(search.prefix(*args), want, "prefix%r" % (args,))


def test_url_type():
    # urlparse.c:url_type: decided by the first ':'.
    cases = [
        ("vmlinuz", search.URL_SUFFIX),
        ("::vmlinuz", search.URL_OLD_TFTP),
        ("host::vmlinuz", search.URL_OLD_TFTP),
        ("http://web/k", search.URL_NORMAL),
        ("tftp://h/k", search.URL_NORMAL),
        ("a:b://c", search.URL_SUFFIX),
        ("c:\\k", search.URL_SUFFIX),
        ("dir/host::k", search.URL_OLD_TFTP),
    ]
    for name, want in cases:
        check(search.url_type(name), want, "url_type(%r)" % name)


def test_resolve():
    # pxe.c:__pxe_searchdir: a URL_SUFFIX name gets the working directory in
    # front, then urlparse.c:parse_url; an empty host is the boot server
    # (pxe.c:url_set_ip).
    cases = [
        (("vmlinuz", "::s390x/"), "tftp://S/s390x/vmlinuz"),
        (("::images/vmlinuz", "::s390x/"), "tftp://S/images/vmlinuz"),
        (("other::images/vmlinuz", "::s390x/"), "tftp://other/images/vmlinuz"),
        (("vmlinuz", "other::s390x/"), "tftp://other/s390x/vmlinuz"),
        (("vmlinuz", "http://web/s390/"), "http://web/s390/vmlinuz"),
        (("::vmlinuz", "http://web/s390/"), "tftp://S/vmlinuz"),
        (("http://web/k", "::s390x/"), "http://web/k"),
        (("tftp:///k", "::s390x/"), "tftp://S/k"),
        (("a:b", "::s390x/"), "tftp://S/s390x/a:b"),
        (("vmlinuz", "::/srv/tftp/"), "tftp://S//srv/tftp/vmlinuz"),
        (("k", "::boot\\"), "tftp://S/boot\\k"),
        # parse_url cuts a URL's path at '#'; tftp.c:tftp_open decodes %XX up to
        # ';' (urlparse.c:url_unescape), not in host:: names.
        (("tftp://h/a%20b;mode=x", "::"), "tftp://h/a b"),
        (("tftp://h/a%2", "::"), "tftp://h/a%2"),
        (("tftp://h/k#part", "::"), "tftp://h/k"),
        (("http://w/a%20b#part", "::"), "http://w/a%20b"),
        (("h::a%20b", "::"), "tftp://h/a%20b"),
    ]
    for (name, cwd), want in cases:
        check(search.resolve(name, cwd, "S"), want, "resolve(%r, %r, 'S')" % (name, cwd))


def test_chdir():
    # pxe.c:pxe_chdir: a URL_SUFFIX directory is appended as text (no '/'
    # added), anything else replaces the working directory.
    cases = [
        (("::s390x/", "sub/"), "::s390x/sub/"),
        (("::s390x/", "sub"), "::s390x/sub"),
        (("::s390x/", "::other/"), "::other/"),
        (("::s390x/", "host::other/"), "host::other/"),
        (("::s390x/", "http://web/x/"), "http://web/x/"),
        (("http://web/x/", "y/"), "http://web/x/y/"),
    ]
    for args, want in cases:
        check(search.chdir(*args), want, "chdir%r" % (args,))


def test_search_under_prefix_and_option_210():
    # pxe.c:get_prefix then pxe.c:pxe_open_config: the names are tried under the
    # prefix; option 210 with '::' is from the root; host:: from that server.
    cases = [
        (dict(bootfile="boot\\pxelinux.0"), "tftp://192.0.2.1/boot\\pxelinux.cfg/default"),
        (dict(bootfile="s390x/pxelinux.0", opt210="::site/"), "tftp://192.0.2.1/site/pxelinux.cfg/default"),
        (dict(bootfile="s390x/pxelinux.0", opt210="cfg::site/"), "tftp://cfg/site/pxelinux.cfg/default"),
        (dict(bootfile="s390x/pxelinux.0", opt210="http://web/s/"), "http://web/s/pxelinux.cfg/default"),
        (dict(bootfile="s390x/pxelinux.0", opt209="::fixed.cfg"), "tftp://192.0.2.1/fixed.cfg"),
    ]
    for env, url in cases:
        p = plan_of({url: "DEFAULT a\nLABEL a\n KERNEL k\n"}, env)
        check(p.config, url, "make_plan(%r).config" % env)


def test_host_colon_colon_kernel_and_initrd():
    # urlparse.c:parse_url: host::file comes from host's root, ::file from the
    # boot server's root, neither with the prefix.
    files = {"tftp://192.0.2.1/s390x/pxelinux.cfg/default":
             "DEFAULT a\nLABEL a\n KERNEL images::s390/linux\n INITRD ::s390/initrd.gz,local.img\n"}
    p = plan_of(files, {"bootfile": "s390x/pxelinux.0"})
    got = (p.kernel, p.initrd)
    want = ("tftp://images/s390/linux", ["tftp://192.0.2.1/s390/initrd.gz", "tftp://192.0.2.1/s390x/local.img"])
    check(got, want, "make_plan(host::file).(kernel, initrd)")


def test_config_file_dir():
    # execute.c:execute (IMAGE_TYPE_CONFIG): the file is named from the current
    # directory; the first word after it becomes the new directory, entered by
    # readconfig.c:parse_main_config after opening the file (pxe.c:pxe_chdir).
    base = "tftp://192.0.2.1/"
    second = "DEFAULT b\nLABEL b\n KERNEL linux\n INITRD initrd.gz\n INCLUDE more.cfg\n"
    cases = [
        # CONFIG file dir
        ("DEFAULT a\nLABEL a\n CONFIG other.cfg sub/\n",
         {"s390x/other.cfg": second}, "s390x/sub/linux", ["s390x/sub/initrd.gz"]),
        # the old form: the directory as APPEND's first word
        ("DEFAULT a\nLABEL a\n CONFIG other.cfg\n APPEND sub/\n",
         {"s390x/other.cfg": second}, "s390x/sub/linux", ["s390x/sub/initrd.gz"]),
        # an absolute directory
        ("DEFAULT a\nLABEL a\n CONFIG ::top/other.cfg ::top/\n",
         {"top/other.cfg": second}, "top/linux", ["top/initrd.gz"]),
        # no directory: the working directory stays
        ("DEFAULT a\nLABEL a\n CONFIG cfg/other.cfg\n",
         {"s390x/cfg/other.cfg": second}, "s390x/linux", ["s390x/initrd.gz"]),
        # the global APPEND is part of a CONFIG label's line too
        ("DEFAULT a\nAPPEND sub/ quiet\nLABEL a\n CONFIG other.cfg\n",
         {"s390x/other.cfg": second}, "s390x/sub/linux", ["s390x/sub/initrd.gz"]),
    ]
    for text, more, kernel, initrd in cases:
        files = {base + "s390x/pxelinux.cfg/default": text}
        for k in more:
            files[base + k] = more[k]
        p = plan_of(files, {"bootfile": "s390x/pxelinux.0"})
        got = (search.display(p.kernel, p.server), [search.display(u, p.server) for u in p.initrd])
        check(got, (kernel, initrd), "make_plan(%r).(kernel, initrd)" % text)


def test_config_dir_applies_to_include_after_the_hop():
    # readconfig.c:parse_main_config chdir()s before parsing: INCLUDE in the new
    # file is relative to the new directory.
    base = "tftp://192.0.2.1/"
    files = {base + "pxelinux.cfg/default": "DEFAULT a\nLABEL a\n CONFIG other.cfg sub/\n",
             base + "other.cfg": "DEFAULT b\nINCLUDE inc.cfg\n",
             base + "sub/inc.cfg": "LABEL b\n KERNEL k\n"}
    p = plan_of(files)
    check((p.entry.label, search.display(p.kernel, p.server)), ("b", "sub/k"), "make_plan(CONFIG + INCLUDE)")
