"""Reading inputs and writing outputs with one-line errors.

Outputs go through a temporary file in the target's directory and a rename,
so nothing half-written is ever left at an output path.
"""

import os
import tempfile

from packager.errors import Die


def read_file(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise Die("%s %s does not exist" % (what, path))
    except IsADirectoryError:
        raise Die("%s %s is a directory, not a file" % (what, path))
    except OSError as e:
        raise Die("cannot read %s %s: %s" % (what, path, e.strerror))


def write_atomic(path, data, mode=0o644):
    """Write data to path through a temporary file in the same directory."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise Die("cannot write %s: directory %s does not exist" % (path, directory))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
