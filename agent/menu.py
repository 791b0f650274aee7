"""What boots, decided as Syslinux 6.04's code decides it, and the console menu.

One decision drives both faces: ``session(cfg)`` is a generator that walks
ldlinux.c's main (ldlinux_auto_boot, enter_cmdline, load_kernel) and, when
the command it loads is menu.c32 or vesamenu.c32, menumain.c's main and
run_menu. It yields console actions and is sent what the console answers:

- ``("say", text)``: a line Syslinux prints;
- ``("note", text)``: something worth knowing that Syslinux does not print;
- ``("show", entry)``: the menu, with that entry (or None) the default
  (print it with menu_lines, one line at a time);
- ``("ask", where, tenths, total, what)``: wait for a typed line at the
  boot: prompt (where "prompt") or the menu's (where "menu"). tenths is
  the countdown (TIMEOUT, the menu's TIMEOUT), total TOTALTIMEOUT, 0 means
  none; what is what a timeout boots. Send the line, or None when it timed out;
- ``("boot", command, source, label)``: the end: resolve command (label: the
  menu entry's own label, or None to find it by name);
- ``("fail", message)``: the end: nothing will boot (NOESCAPE without DEFAULT).

``decide(cfg)`` drives it with nobody at the console (``plan``); agent/boot.py
drives it with the real console. s390 consoles take whole lines and cannot
address the cursor, so the menu is printed once: the title, the labels every
menu lists, numbered, with the default marked, then a prompt. What a person
types is what PXELINUX's boot: prompt takes: a label name (or its number
here) with options, or a kernel file name when IMPLICIT allows; an empty line
is Enter.
"""

from agent import cmdline, pxeconfig
from agent.pxeconfig import ConfigError, LEVEL_DEFAULT, LEVEL_UI, first_word

NO_DEFAULT = "No DEFAULT or UI configuration directive found!"
NO_ENTRIES = "Initial menu has no LABEL entries!"
MAX_UNATTENDED_ASKS = 8   # prompts decide() answers before it gives up
MAX_MENU_RUNS = 8         # menus started in a row without a prompt (MENU SHIFTKEY loops)


def first_wait(kbd, total):
    """How long the first key is waited for (cli.c:mygetkey_timeout): the
    countdown, cut short by TOTALTIMEOUT; 0 waits forever."""
    if kbd and total:
        return min(kbd, total)
    return kbd or total


def session(cfg, shift=False, resume=False, probe=None):
    """ldlinux.c:main. shift: a person asked for the prompt (a held Shift key;
    here pxe.prompt, or a label given with pxe.label / plan --label). resume:
    after a failed boot, where Syslinux goes on: menu.c32's menu again, else
    ldlinux.c's prompt (load_kernel returned into enter_cmdline). probe(name)
    -> bool: whether a file of that name is on the server, for
    get_extension (None: names are booted as written)."""
    if not cfg.prompt and not shift and not resume:
        yield from _auto_boot(cfg, probe)
    if cfg.level > LEVEL_DEFAULT:
        # A UI runs whatever PROMPT says.
        yield from _auto_boot(cfg, probe)
    while True:
        # ldlinux.c:enter_cmdline
        if cfg.noescape:
            yield from _auto_boot(cfg, probe)
            yield ("fail", "NOESCAPE 1 and nothing booted: Syslinux stops here")
            return
        what = cfg.ontimeout or cfg.default_cmd
        line = yield ("ask", "prompt", cfg.timeout, cfg.totaltimeout, what)
        command = choice_command(cfg, line) if line is not None else None
        if line is None and cfg.ontimeout:
            gen = _load(cfg, cfg.ontimeout, "ONTIMEOUT", None, probe=probe)
        elif command is None:
            gen = _auto_boot(cfg, probe)
        else:
            gen = _load(cfg, command, cmdline.TYPED, None, probe=probe)
        yield from gen


def _auto_boot(cfg, probe=None):
    """ldlinux.c:ldlinux_auto_boot: UI's module, else DEFAULT's command."""
    if not cfg.level:
        yield ("say", NO_DEFAULT)
        return
    source = "UI" if cfg.level == LEVEL_UI else "DEFAULT"
    yield from _load(cfg, cfg.default_cmd, source, None, probe=probe)


def has_extension(name):
    """ldlinux.c parse_image_type: whether the name ends in one of Syslinux's
    file extensions (else it is IMAGE_TYPE_KERNEL and get_extension probes)."""
    for ext, _ in pxeconfig.EXTENSION_TYPES:
        if name.endswith(ext):
            return True
    return False


def get_extension(name, probe):
    """ldlinux.c get_extension: the first of Syslinux's extensions (.c32,
    .img, .bss, .bin, .bs, .0, in that order) with which name exists on the
    server (findpath), or None."""
    for ext, _ in pxeconfig.EXTENSION_TYPES:
        if probe(name + ext):
            return ext
    return None


def _load(cfg, command, source, lab, runs=0, probe=None):
    """ldlinux.c:load_kernel, as far as it decides: a label or a file, and
    whether that runs the menu (a COM32 module named menu.c32/vesamenu.c32).
    runs: how often the menu ran in a row without asking anyone. A command
    that names no label and has no extension is probed with get_extension
    (probe given): `DEFAULT menu` runs menu.c32; a name that exists neither
    with an extension nor as written fails to load, and Syslinux goes on with
    ONERROR, else returns to its prompt."""
    command = command.strip(pxeconfig.C_SPACE)
    if lab is None:
        lab = cfg.label(first_word(command))
    if lab is not None:
        module = lab.kernel if lab.ktype == pxeconfig.COM32 and lab.action is None else None
    else:
        module = first_word(command)
        if cfg.implicit and probe is not None and module and not has_extension(module):
            ext = get_extension(module, probe)
            if ext is not None:
                yield ("note", "%s %s: no label of that name; %s%s is on the server (ldlinux.c get_extension)"
                       % (source, module, module, ext))
                command = module + ext + command[len(module):]
                module = module + ext
            elif not probe(module):
                yield ("note", "%s %s: no label, and no file %s or %s.c32 ... %s.0 on the server: "
                       "Syslinux fails to load it" % (source, module, module, module, module))
                # kernel.c new_linux_kernel's lines
                yield ("say", "Loading %s... failed: no such file on the server" % module)
                if cfg.onerror and source != "ONERROR":
                    yield ("boot", cfg.onerror, "ONERROR", None)
                return  # load_kernel returns: the prompt (or the menu) goes on
        if not cfg.implicit or pxeconfig.kernel_type(module) != pxeconfig.COM32:
            module = None
    if module is not None and pxeconfig.is_ui_module(module):
        args = (lab.kernel_args if lab is not None else command[len(module):].strip())
        if args:
            yield ("note", "%s %s: menu.c32 would read the config file(s) %s; the menu is "
                           "made from this config" % (source, command, args))
        if runs >= MAX_MENU_RUNS:
            yield ("fail", "the menu's default entry runs the menu again, without end")
            return
        yield from _menu(cfg, runs + 1, probe)
        return  # the menu exited: back to the boot: prompt
    yield ("boot", command, source, lab)


def _entry_source(m):
    return m.default_source or "the menu's first entry"


def _menu(cfg, runs=1, probe=None):
    """menumain.c:main and run_menu, with the menu printed once."""
    m = cfg.start
    if not m.entries:
        yield ("say", NO_ENTRIES)
        return
    entry = m.entries[m.defentry] if m.defentry < len(m.entries) else None
    if cfg.shiftkey:
        # MENU SHIFTKEY: without a held Shift key (there is none on s390) the
        # default entry runs at once.
        yield from _menu_entry(cfg, entry, "MENU SHIFTKEY: " + _entry_source(m), runs, probe)
        return
    default = entry if entry is not None and entry.action is None else None
    yield ("show", default)
    what = m.ontimeout or (default.name if default else None)
    line = yield ("ask", "menu", m.timeout, cfg.totaltimeout, what)
    if line is None:
        if m.ontimeout:
            # parse_configs unlabel()s ONTIMEOUT: a label's name runs that label.
            gen = _load(cfg, m.ontimeout, "ONTIMEOUT", None, probe=probe)
        else:
            gen = _menu_entry(cfg, entry, _entry_source(m), probe=probe)
    elif choice_command(cfg, line) is None:
        gen = _menu_entry(cfg, entry, _entry_source(m), probe=probe)
    else:
        # What Esc then typing at the boot: prompt does; a number picks an entry.
        gen = _load(cfg, choice_command(cfg, line), cmdline.TYPED, None, probe=probe)
    yield from gen


def _menu_entry(cfg, entry, source, runs=0, probe=None):
    """run_menu's answer for an entry: its command line, or none (a submenu,
    MENU GOTO/EXIT/QUIT/HELP, a separator): then menu.c32 exits."""
    if entry is None or entry.action is not None:
        yield ("note", "the menu's default entry boots nothing: menu.c32 exits to the boot: prompt")
        return
    yield from _load(cfg, entry.name, source, entry, runs, probe)


def drive(cfg, answer, shift=False, resume=False, say=None, note=None, show=None, probe=None):
    """Run session() to its end: (command, source, label) of what boots.

    answer(action) replies to each ("ask", ...): the line typed, or None
    when its wait ran out; say, note and show (optional) get the config's
    text, the notes and the menu's default. The one driver of the decision:
    decide() with nobody there, the boot console with a person. Raises
    ConfigError when Syslinux would stop ("fail"). probe: see session()."""
    gen = session(cfg, shift, resume, probe)
    action = next(gen)
    while True:
        kind = action[0]
        if kind == "boot":
            return action[1], action[2], action[3]
        if kind == "fail":
            raise ConfigError(action[1])
        reply = None
        if kind == "ask":
            reply = answer(action)
        elif kind == "say" and say is not None:
            say(action[1])
        elif kind == "note" and note is not None:
            note(action[1])
        elif kind == "show" and show is not None:
            show(action[1])
        action = gen.send(reply)


def decide(cfg, typed=None, probe=None):
    """(command, source, label, notes): what Syslinux boots with nobody at the
    console, or with typed entered at the first prompt (a held Shift key first).

    A prompt with no countdown waits for someone: then this answers Enter, and
    says so in a note. Raises ConfigError when nothing boots that way."""
    notes = []
    said = []
    state = {"asks": 0, "typed": typed}

    def answer(action):
        state["asks"] += 1
        if state["asks"] > MAX_UNATTENDED_ASKS:
            raise ConfigError("%s; nothing boots unless someone types a label at the boot: prompt"
                              % (said[-1] if said else "the menu and the boot: prompt go round "
                                 "without reaching a kernel"))
        if state["typed"] is not None:
            line, state["typed"] = state["typed"], None
            return line
        if not first_wait(action[2], action[3]):
            text = "the %s has no TIMEOUT: it waits for someone; this is what Enter boots" % (
                "menu" if action[1] == "menu" else "boot: prompt")
            if text not in notes:
                notes.append(text)
            return ""
        return None

    def note(text):
        notes.append(text)
    command, source, lab = drive(cfg, answer, typed is not None, False, said.append, note, probe=probe)
    return command, source, lab, notes


def menu_lines(cfg, default_label=None, default=None):
    """The menu as printed: the title, then every label a menu lists, numbered,
    under its submenu's title; the default marked '*' (default: that Label,
    else the label named default_label). A generator: 3000 labels are never
    all formatted at once."""
    if cfg.title:
        yield cfg.title
    heading = cfg.root
    for i, lab in enumerate(cfg.visible_labels(), 1):
        where = lab.menu or cfg.root
        if where is not heading:
            heading = where
            if heading is not cfg.root:
                yield "  %s:" % (heading.title or heading.display()).replace("^", "")
        if default is not None:
            mark = "*" if lab is default else " "
        else:
            mark = "*" if default_label is not None and lab.name == default_label else " "
        name = lab.display()
        if name != lab.name:
            name = "%s (%s)" % (name, lab.name)
        yield " %s%2d) %s" % (mark, i, name)


def choice_command(cfg, typed):
    """What a typed line boots: a number picks the numbered label; else as typed.

    Returns None for an empty line (boot the default).
    """
    first, rest = pxeconfig.split_command(typed)
    if not first:
        return None
    rest = (" " + rest) if rest else ""
    if all(c in "0123456789" for c in first) and len(first) < 12:
        visible = cfg.visible_labels()
        n = int(first)
        if 1 <= n <= len(visible) and cfg.label(first) is None:
            return visible[n - 1].name + rest
    return first + rest


def countdown_text(seconds, label):
    return "Booting %s in %d s; type a label, or press Enter to stop the countdown" % (label, seconds)
