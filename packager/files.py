"""Reading inputs and writing outputs with one-line errors.

Inputs are read whole but bounded: a device (/dev/zero) is refused and a
file or FIFO larger than the limit is an error, never an out-of-memory.
Outputs go through a temporary file in the target's directory and a rename,
so nothing half-written is ever left at an output path; several outputs of
one command (an image and its manifest) are all written before any is
renamed into place.
"""

import os
import stat
import tempfile

from packager.errors import Die

# Larger than any s390 boot image (kernel + initramfs) anyone netboots.
MAX_INPUT = 2 << 30


def read_file(path, what, limit=MAX_INPUT):
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise Die("%s %s is a directory, not a file" % (what, path))
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
            raise Die("%s %s is a device or socket, not a file" % (what, path))
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise Die("%s %s is %d bytes, more than the %d this command reads"
                      % (what, path, st.st_size, limit))
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise Die("%s %s does not exist" % (what, path))
    except IsADirectoryError:
        raise Die("%s %s is a directory, not a file" % (what, path))
    except OSError as e:
        raise Die("cannot read %s %s: %s" % (what, path, e.strerror))
    if len(data) > limit:
        raise Die("%s %s is more than the %d bytes this command reads" % (what, path, limit))
    return data


def check_output(path, inputs=()):
    """Die unless path can be an output: not a directory, not one of the inputs."""
    if os.path.isdir(path):
        raise Die("output %s is a directory: give a file name (e.g. %s/pxelinux.0)"
                  % (path, path.rstrip("/")))
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise Die("cannot write %s: directory %s does not exist" % (path, directory))
    for what, other in inputs:
        try:
            same = os.path.samefile(path, other)
        except OSError:
            continue
        if same:
            raise Die("output %s is the %s itself: write the image to another path" % (path, what))


def write_atomic(path, data, mode=0o644):
    """Write data to path through a temporary file in the same directory."""
    write_all([(path, data, mode)])


def write_all(outputs):
    """Write [(path, data, mode)]: every temporary file first, then the renames.

    Any error (full or read-only file system, a directory in the way) is a
    Die naming the path, and removes every temporary file."""
    temps = []
    try:
        for path, data, mode in outputs:
            check_output(path)
            directory = os.path.dirname(os.path.abspath(path))
            try:
                fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
            except OSError as e:
                raise Die("cannot write %s: %s" % (path, e.strerror))
            temps.append(tmp)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.chmod(tmp, mode)
            except OSError as e:
                raise Die("cannot write %s: %s" % (path, e.strerror))
        for (path, _, _), tmp in zip(outputs, temps):
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise Die("cannot write %s: %s" % (path, e.strerror))
    except BaseException:
        for tmp in temps:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise
