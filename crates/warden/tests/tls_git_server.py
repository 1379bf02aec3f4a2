"""A loopback HTTPS server for the interception tests: GET /hello, POST /echo, git smart HTTP
under /git/ (through the real `git http-backend`, pushes enabled), every request logged with its
Authorization header to ROOT/requests.log. Prints its port, then serves until killed.

usage: tls_git_server.py ROOT CERT KEY
"""
import http.server
import os
import ssl
import subprocess
import sys

root, cert, key = sys.argv[1:4]


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
        elif path == "/hello":
            self.reply(200, [], b"hello over intercepted TLS\n")
        else:
            self.reply(200, [], self.command.encode() + b" " + body)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
