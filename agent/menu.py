"""The console menu for line-mode s390 consoles (pure parts).

s390 consoles (SCLP, 3215) take whole lines and cannot address the cursor,
so the menu is printed once: the title, the SAY lines, numbered visible
labels with the default marked, then a ``boot:`` prompt. What a person
types is PXELINUX's: a label name (or its number here) followed by extra
kernel options, or a kernel file name when IMPLICIT allows.
"""


def menu_lines(cfg, default_label=None):
    lines = []
    for text in cfg.say:
        lines.append(text)
    if cfg.title:
        lines.append(cfg.title)
    visible = cfg.visible_labels()
    for i, lab in enumerate(visible, 1):
        mark = "*" if default_label is not None and lab.name == default_label else " "
        name = lab.display()
        if name != lab.name:
            name = "%s (%s)" % (name, lab.name)
        lines.append(" %s%2d) %s" % (mark, i, name))
    return lines


def choice_command(cfg, typed):
    """What a typed line boots: a number picks the numbered label; else as typed.

    Returns None for an empty line (boot the default).
    """
    typed = typed.strip()
    if not typed:
        return None
    words = typed.split(None, 1)
    first = words[0]
    rest = (" " + words[1]) if len(words) > 1 else ""
    if first and all(c in "0123456789" for c in first):
        visible = cfg.visible_labels()
        n = int(first)
        if 1 <= n <= len(visible) and cfg.label(first) is None:
            return visible[n - 1].name + rest
    return typed


def countdown_text(seconds, label):
    return "Booting %s in %d s; type a label, or press Enter to stop the countdown" % (label, seconds)
