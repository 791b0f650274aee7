"""An in-memory fetcher for the agent's table tests (CPython and MicroPython):
files by their name under the server (the URL's path after the host)."""

from agent.fetch import NotFound


class MemFetcher:
    def __init__(self, files):
        self.files = files

    def read(self, url, limit=1 << 20):
        name = url.split("/", 3)[3]
        if name not in self.files:
            raise NotFound(url)
        data = self.files[name]
        return data.encode() if isinstance(data, str) else data
