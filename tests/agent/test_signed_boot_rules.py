"""Signed boot's rules that need no PKI (tests/test_signing.py has the
certificates): the image's pxe.verify=required stays whatever the kernel
command line says, and the .sig is looked for, bounded and required before
any check. Runs under CPython and MicroPython."""

from agent import boot, verify
from agent.fetch import NotFound
from tests.agent.memfetch import MemFetcher

ROOTS = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


def test_image_verify_cannot_be_undone():
    for cmdline, ignored in (("", None), ("pxe.verify=0", "0"), ("pxe.verify=", ""), ("pxe.verify=off quiet", "off"),
                             ("pxe.verify", True), ("pxe.verify=required", None)):
        opts = boot.load_options("pxe.verify=required\n", cmdline)
        assert opts.get("verify") == "required", "load_options(image verify, %r) = %r, want required" % (cmdline, opts)
        assert opts.get("verify-ignored") == ignored, \
            "load_options(image verify, %r) ignored %r, want %r" % (cmdline, opts.get("verify-ignored"), ignored)
    # Without it in the image the command line may ask for it (and nothing is "ignored").
    assert boot.load_options("", "pxe.verify=required").get("verify") == "required"
    assert boot.load_options("", "pxe.verify=0").get("verify-ignored") is None


def refusal(fetcher, url):
    try:
        fetcher.read(url)
    except verify.Unsigned as e:
        return e.reason, str(e)
    return verify.OK, ""


def test_signature_needed_before_any_check():
    files = {"pxelinux.cfg/default": "DEFAULT x\n", "empty": "x", "empty.sig": b"", "big": "x",
             "big.sig": b"\x30" * (verify.SIG_LIMIT + 1), "garbage": "x", "garbage.sig": b"\x30\x82\xff\xff junk"}
    f = verify.VerifyingFetcher(MemFetcher(files), ROOTS)
    cases = (("tftp://s/pxelinux.cfg/default", verify.MISSING, "no default.sig"),
             ("tftp://s/empty", verify.MALFORMED, "truncated or malformed"),
             ("tftp://s/big", verify.TOO_LARGE, "larger than 65536 bytes"),
             ("tftp://s/garbage", verify.MALFORMED, "truncated or malformed"))
    for url, want, words in cases:
        code, text = refusal(f, url)
        assert code == want, "read(%s) refused with %s, want %s" % (url, verify.NAMES.get(code), verify.NAMES[want])
        assert words in text and text.startswith(url + ": refused: "), "read(%s) said %r" % (url, text)
        assert "\n" not in text
    # A file that does not exist is "not found" (the config search goes on), not a refusal.
    try:
        f.read("tftp://s/pxelinux.cfg/01-aa")
        assert False, "read of a missing file returned"
    except verify.Unsigned:
        assert False, "a missing file was refused for its signature"
    except NotFound:
        pass
    assert [(u.rsplit("/", 1)[-1], c) for u, c in f.checked] == \
        [("default", verify.MISSING), ("empty", verify.MALFORMED), ("big", verify.TOO_LARGE),
         ("garbage", verify.MALFORMED)], f.checked
