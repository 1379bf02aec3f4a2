"""A loopback HTTPS server for the interception tests: GET /hello, GET /big (8 MiB), POST /echo, git smart HTTP
under /git/ (through the real `git http-backend`, pushes enabled), a package index with one
package `tinypkg` — PyPI's "simple" API under /simple/ (a wheel made here) and an npm registry
under /npm/ (a packument and a tarball made here) — every request logged with its
Authorization header to ROOT/requests.log. Prints its port, then serves until killed.

usage: tls_git_server.py ROOT CERT KEY
"""
import base64
import hashlib
import http.server
import io
import json
import os
import ssl
import subprocess
import sys
import tarfile
import zipfile

root, cert, key = sys.argv[1:4]
# Path -> (content type, body) of the package index, filled once the port is known.
packages = {}


def make_packages():
    """One wheel behind a PyPI simple index, one tarball behind an npm packument (its tarball
    URL names the host the packument was asked of: `{BASE}`)."""
    files = {
        "tinypkg/__init__.py": b'HELLO = "pip installed over intercepted TLS"\n',
        "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(data)}\n"
    record += "tinypkg-1.0.dist-info/RECORD,,\n"
    files["tinypkg-1.0.dist-info/RECORD"] = record.encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    wheel = buf.getvalue()
    whl = "tinypkg-1.0-py3-none-any.whl"
    sha = hashlib.sha256(wheel).hexdigest()
    packages["/simple/tinypkg/"] = (
        "text/html",
        f'<html><body><a href="/files/{whl}#sha256={sha}">{whl}</a></body></html>\n'.encode(),
    )
    packages[f"/files/{whl}"] = ("application/octet-stream", wheel)

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in {
            "package/package.json": b'{"name": "tinypkg", "version": "1.0.0", "main": "index.js"}\n',
            "package/index.js": b'module.exports = "npm installed over intercepted TLS";\n',
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    tgz = buf.getvalue()
    tarball = "/npm/tinypkg/-/tinypkg-1.0.0.tgz"
    packument = {
        "name": "tinypkg",
        "dist-tags": {"latest": "1.0.0"},
        "versions": {
            "1.0.0": {
                "name": "tinypkg",
                "version": "1.0.0",
                "main": "index.js",
                "dist": {
                    "tarball": "{BASE}" + tarball,
                    "shasum": hashlib.sha1(tgz).hexdigest(),
                    "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode(),
                },
            }
        },
    }
    packages["/npm/tinypkg"] = ("application/json", json.dumps(packument).encode())
    packages[tarball] = ("application/octet-stream", tgz)


def read_chunked(f):
    out = b""
    while True:
        size = int(f.readline().split(b";")[0].strip(), 16)
        if size == 0:
            f.readline()
            return out
        out += f.read(size)
        f.readline()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, headers, body):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = read_chunked(self.rfile)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        with open(os.path.join(root, "requests.log"), "a") as log:
            log.write(f"{self.command} {path} auth={self.headers.get('Authorization', '')}\n")
        if path.startswith("/git/"):
            env = dict(
                os.environ,
                GIT_PROJECT_ROOT=os.path.join(root, "repos"),
                GIT_HTTP_EXPORT_ALL="1",
                PATH_INFO=path[len("/git"):],
                QUERY_STRING=query,
                REQUEST_METHOD=self.command,
                CONTENT_TYPE=self.headers.get("Content-Type", ""),
                CONTENT_LENGTH=str(len(body)),
                REMOTE_USER="tester",
                REMOTE_ADDR="127.0.0.1",
            )
            out = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True
            ).stdout
            sep = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
            head, _, rest = out.partition(sep)
            code, headers = 200, []
            for line in head.decode().splitlines():
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    code = int(v.split()[0])
                elif k:
                    headers.append((k, v.strip()))
            self.reply(code, headers, rest)
        elif path in packages:
            kind, data = packages[path]
            if kind == "application/json":
                base = f"https://{self.headers.get('Host', '')}".encode()
                data = data.replace(b"{BASE}", base)
            self.reply(200, [("Content-Type", kind)], data)
        elif path == "/big":
            # Larger than every buffer on the way: a client that hangs up early leaves the
            # proxy writing into a closed connection.
            self.reply(200, [], b"x" * (8 << 20))
        elif path == "/hello":
            self.reply(200, [], b"hello over intercepted TLS\n")
        else:
            self.reply(200, [], self.command.encode() + b" " + body)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
make_packages()
print(server.server_address[1], flush=True)
server.serve_forever()
