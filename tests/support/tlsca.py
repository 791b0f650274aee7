"""A test certificate authority made with openssl(1), and nginx serving files
over TLS with its certificates, for the https:// tests and benchmarks.

Certificates (ECDSA P-256, as a small site CA would make them):
  ca.pem            the test CA (what the image trusts)
  other-ca.pem      another CA (an image trusting it refuses the server)
  good.pem          localhost + 127.0.0.1, signed by the test CA
  expired.pem       the same names, signed by the test CA, expired yesterday
                    (openssl 3.0's x509 -days -1: notAfter before notBefore)
  wrong-name.pem    only other.example, signed by the test CA
  mitm.pem          localhost + 127.0.0.1, self-signed (a man in the middle)
"""

import os
import subprocess
import time

NAMES = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:10.0.2.2,IP:192.0.2.1\n"


def _ssl(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _key(name, cwd):
    _ssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key"], cwd)


def _ca(name, cwd):
    _key(name, cwd)
    _ssl(["req", "-x509", "-new", "-key", name + ".key", "-out", name + ".pem", "-subj", "/CN=s390-netboot " + name,
          "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], cwd)


def _leaf(name, ca, names, days, cwd):
    _key(name, cwd)
    with open(os.path.join(cwd, name + ".ext"), "w") as f:
        f.write(names + "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    _ssl(["req", "-new", "-key", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name], cwd)
    if ca is None:
        _ssl(["x509", "-req", "-in", name + ".csr", "-key", name + ".key", "-days", str(days),
              "-extfile", name + ".ext", "-out", name + ".pem"], cwd)
    else:
        _ssl(["x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
              "-days", str(days), "-extfile", name + ".ext", "-out", name + ".pem"], cwd)


def make_certs(d):
    """Every certificate above under directory d; returns d."""
    os.makedirs(d, exist_ok=True)
    _ca("ca", d)
    _ca("other-ca", d)
    _leaf("good", "ca", NAMES, 30, d)
    _leaf("expired", "ca", NAMES, -1, d)
    _leaf("wrong-name", "ca", "subjectAltName=DNS:other.example\n", 30, d)
    _leaf("mitm", None, NAMES, 30, d)
    return d


NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
user root;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 64; }
http {
%(access_log)s
    client_body_temp_path %(dir)s/tmp;
    proxy_temp_path %(dir)s/tmp;
    fastcgi_temp_path %(dir)s/tmp;
    uwsgi_temp_path %(dir)s/tmp;
    scgi_temp_path %(dir)s/tmp;
    default_type application/octet-stream;
    sendfile on;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers off;
%(extra)s
%(servers)s
}
"""

NGINX_SERVER = """    server {
        listen %(addr)s:%(port)d ssl;
        server_name localhost;
        ssl_certificate %(certs)s/%(cert)s.pem;
        ssl_certificate_key %(certs)s/%(cert)s.key;
        root %(root)s;
        location = /to-http { return 302 http://%(addr)s:%(http_port)d/pxelinux.cfg/default; }
    }
"""

NGINX_HTTP = """    server {
        listen %(addr)s:%(http_port)d;
        root %(root)s;
    }
"""


class Nginx:
    """Debian's nginx serving root over TLS: one port per certificate
    (ports[name]) and plain HTTP on http_port, all on addr. log_format:
    nginx variables, one line per request in access_log (none without);
    extra: more directives for the http block."""

    def __init__(self, workdir, certs, root, addr="127.0.0.1", base_port=8443,
                 names=("good", "expired", "wrong-name", "mitm"), netns=None, log_format=None, extra=""):
        self.dir = workdir
        os.makedirs(os.path.join(workdir, "tmp"), exist_ok=True)
        self.ports = dict((n, base_port + i) for i, n in enumerate(names))
        self.http_port = base_port + len(names)
        self.addr = addr
        self.netns = netns
        self.access_log = os.path.join(workdir, "access.log")
        servers = "".join(NGINX_SERVER % {"addr": addr, "port": p, "cert": n, "certs": certs, "root": root,
                                          "http_port": self.http_port} for n, p in self.ports.items())
        servers += NGINX_HTTP % {"addr": addr, "http_port": self.http_port, "root": root}
        self.conf = os.path.join(workdir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF % {"dir": workdir, "servers": servers, "extra": extra,
                                  "access_log": "    access_log off;" if log_format is None else
                                  "    log_format t '%s';\n    access_log %s t;" % (log_format, self.access_log)})
        argv = ["nginx", "-p", workdir, "-c", self.conf]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        self.log = open(os.path.join(workdir, "nginx.out"), "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait()

    def _wait(self):
        probe = ["python3", "-c", "import socket; socket.create_connection((%r, %d), 0.5).close()"
                 % (self.addr, self.http_port)]
        if self.netns:
            probe = ["ip", "netns", "exec", self.netns] + probe
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(os.path.join(self.dir, "error.log")) as f:
                    raise RuntimeError("nginx exited (%s): %s" % (self.proc.returncode, f.read()[-500:]))
            if subprocess.run(probe, stderr=subprocess.DEVNULL).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("nginx did not start listening on %s:%d" % (self.addr, self.http_port))

    def url(self, cert, path, host=None):
        return "https://%s:%d/%s" % (host or self.addr, self.ports[cert], path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def make_site(d, names):
    """A CA (ca.pem) and a server certificate signed by it (server.pem and
    server.key) for names, an openssl subjectAltName line; returns d."""
    os.makedirs(d, exist_ok=True)
    _ca("ca", d)
    _leaf("server", "ca", names, 30, d)
    return d
