"""File access for `s390-netboot lint`: the tree a fetcher serves, read the
way lint needs it (existence without a download, a kernel's first bytes, a
whole file bounded), over a local directory or a live server."""

import os

from agent import inet
from agent.fetch import FetchError, NotFound

KERNEL_HEAD = 128 * 1024   # bytes of a kernel read: magic at 0x10008, header at 0x10430
DOWNLOAD_LIMIT = 512 << 20  # bytes lint takes of one file from a live server


class Tree:
    """The files behind a fetcher. root: the local directory it serves (None
    for a live server, which is asked over the network)."""

    def __init__(self, fetcher, root=None):
        self.fetcher = fetcher
        self.root = root
        self.kernels = {}        # URL -> (kind, detail) of every file read as a kernel or initrd
        self.found = {}          # URL -> whether the file exists

    def local_path(self, url):
        if self.root is None:
            return None
        try:
            path = inet.split_url(url)[3].lstrip("/")
        except ValueError as e:
            raise FetchError("%s: bad URL (%s)" % (url, e))
        if ".." in path.split("/"):
            return None
        return os.path.join(self.root, path)

    def exists(self, url):
        if url not in self.found:
            try:
                path = self.local_path(url)
            except FetchError:
                self.found[url] = False
                return False
            if path is not None:
                self.found[url] = os.path.isfile(path)
            elif url in self.kernels:
                self.found[url] = self.kernels[url][0] != "missing"
            else:
                # A live server: ask for the file and stop at its first bytes
                # (an initrd of 100 MiB is not downloaded to learn that it is there).
                try:
                    self.fetcher.read(url, limit=1)
                    self.found[url] = True
                except NotFound:
                    self.found[url] = False
                except FetchError:
                    self.found[url] = True
        return self.found[url]

    def head(self, url):
        """(kind, data): 'missing', 'unreadable' (data: why) or 'ok' with the
        file's first KERNEL_HEAD bytes."""
        if url in self.kernels:
            return self.kernels[url]
        try:
            path = self.local_path(url)
            if path is not None:
                if not os.path.isfile(path):
                    result = ("missing", None)
                else:
                    with open(path, "rb") as f:
                        result = ("ok", f.read(KERNEL_HEAD))
            else:
                result = ("ok", self.download(url)[:KERNEL_HEAD])
        except NotFound:
            result = ("missing", None)
        except (OSError, FetchError) as e:
            result = ("unreadable", str(e))
        self.kernels[url] = result
        return result

    def download(self, url):
        """A file from a live server, whole, up to DOWNLOAD_LIMIT bytes (beyond:
        TooLarge, a FetchError): a server sending without end is not followed."""
        import tempfile
        cap_fetcher(self.fetcher, DOWNLOAD_LIMIT)
        with tempfile.NamedTemporaryFile(prefix="s390-netboot-lint.") as tmp:
            self.fetcher.fetch(url, tmp.name)
            with open(tmp.name, "rb") as f:
                return f.read(DOWNLOAD_LIMIT)


def cap_fetcher(fetcher, limit):
    """Give every fetcher behind fetcher (agent.fetch.SchemeFetcher's schemes,
    HttpsOnly's inner one) a size limit: a longer file fails with TooLarge."""
    seen = set()
    todo = [fetcher]
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        if hasattr(f, "schemes"):
            todo.extend(f.schemes.values())
        elif hasattr(f, "inner"):
            todo.append(f.inner)
        elif hasattr(f, "space_for"):
            f.space_for = lambda dest: limit


def find_config_dirs(root, depth=3):
    """The pxelinux.cfg directories under root, up to depth levels down, sorted."""
    out = []
    for top, dirs, files in os.walk(root):
        rel = os.path.relpath(top, root).replace(os.sep, "/")
        level = 0 if rel == "." else rel.count("/") + 1
        if level >= depth:
            dirs[:] = []
        dirs.sort()
        if os.path.basename(top) == "pxelinux.cfg" and rel != ".":
            out.append(rel)
    return sorted(out)
