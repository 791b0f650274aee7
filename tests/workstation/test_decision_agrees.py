"""`plan` and the boot console never disagree: for random configs built from
the directives that decide what boots, agent.plan.make_plan (nobody at the
console) and agent.boot.choose driven by a console where nobody types
(countdowns run out, a prompt without one gets Enter) boot the same thing,
or both boot nothing."""

from hypothesis import given, settings, strategies as st

from tests.agent.test_syslinux_boot import NONE, by_console, by_plan

LINES = ["DEFAULT a", "DEFAULT b x=1", "DEFAULT nosuch", "DEFAULT menu.c32", "UI menu.c32", "UI vesamenu.c32",
         "PROMPT 1", "PROMPT 0", "TIMEOUT 10", "TIMEOUT 0", "TOTALTIMEOUT 20", "ONTIMEOUT b", "ONTIMEOUT k2",
         "ONERROR a", "NOESCAPE 1", "IMPLICIT 0", "LABEL a", "LABEL b", "LABEL c", "LABEL menu", " KERNEL k",
         " KERNEL vesamenu.c32", " KERNEL x.0", " KERNEL k.img", " LINUX k", " CONFIG other.cfg", " LOCALBOOT 0",
         " MENU DEFAULT", " MENU HIDE", " MENU EXIT", " MENU GOTO sub", " MENU QUIT", " MENU DISABLE",
         "MENU BEGIN sub", "MENU END", "MENU START", "MENU SHIFTKEY", "MENU SEPARATOR", "INCLUDE menu.cfg"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=25), st.one_of(st.none(), st.sampled_from(["a", "b y=2", "2", "k9"])))
def test_plan_and_console_agree(lines, typed):
    config = "\n".join(lines) + "\n"
    got_plan = by_plan(config, typed)
    got_console = by_console(config, typed)
    assert got_plan == got_console, "plan(%r, typed=%r) = %r, console = %r" % (
        config, typed, got_plan, got_console)
    # a kernel, nothing, or a local boot (LOCALBOOT 0, an empty config): no kernel
    assert got_plan == NONE or got_plan[1] or " LOCALBOOT 0" in lines or not [x for x in lines if x.strip()]
