"""One-line errors and external commands for the packager.

A Die carries the whole message the user sees: what is wrong and what to do.
External commands are argv lists, echoed as ``+ cmd`` in verbose mode; a
failure names the command and its exit code.
"""

import shlex
import subprocess
import sys

VERBOSE = False


class Die(Exception):
    """A fatal error with a one-line message for the user."""


def note(msg):
    print(msg, file=sys.stderr, flush=True)


def run_cmd(argv, cwd=None, capture=False, hint=None, env=None, quiet=False):
    """Run argv; on failure raise Die naming the command, its exit code and a hint."""
    if VERBOSE:
        note("+ " + shlex.join(argv))
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, text=True,
                              stdout=subprocess.PIPE if (capture or (quiet and not VERBOSE)) else None,
                              stderr=subprocess.PIPE if not VERBOSE else None)
    except FileNotFoundError:
        raise Die("%s: command not found%s" % (argv[0], "; " + hint if hint else ""))
    if proc.returncode != 0:
        detail = ""
        text = (proc.stdout or "") + "\n" + (proc.stderr or "") if not capture else (proc.stderr or "")
        lines = [l.strip() for l in text.splitlines() if l.strip()]
        # make's own lines say little: prefer what the compiler said.
        # make's own echo of a command (mkdir .../mbedtls_errors/) is not an error.
        errs = [l for l in lines if "error" in l.lower() and "***" not in l
                and not l.startswith(("mkdir ", "CC ", "GEN ", "LINK ", "MPY ", "QSTR ", "cp ", "rm "))]
        if errs:
            detail = ": " + "; ".join(errs[:2])[:300]
        elif lines:
            detail = ": " + lines[-1][:300]
        shown = shlex.join(argv) if len(argv) <= 6 else shlex.join(argv[:6]) + " ..."
        raise Die("`%s` failed with exit code %d%s%s" % (
            shown, proc.returncode, detail, "; " + hint if hint else ""))
    return proc.stdout if capture else ""
