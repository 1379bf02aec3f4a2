#!/usr/bin/env python3
"""A minimal real OTLP/HTTP receiver for Warden's audit export tests.

It decodes every request with the OpenTelemetry project's own protobuf classes (the PyPI
package `opentelemetry-proto`): `application/x-protobuf` bodies with ParseFromString and
`application/json` bodies with protobuf's strict JSON parser. A body that does not decode is
answered 400 and recorded as an error. Each decoded request is appended to OUT as one JSON line
{"path", "content_type", "request"} (the request as protobuf's canonical JSON mapping).

Usage: audit_receiver.py OUT [PORT]   (prints the bound port on stdout, then serves)
With RECEIVER_TLS_CERT and RECEIVER_TLS_KEY set it serves HTTPS.
"""
import base64
import gzip
import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest, ExportLogsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

OUT = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
LOCK = threading.Lock()
KINDS = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
}


ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def hex_ids_to_base64(v):
    """OTLP/JSON writes trace and span ids as hex, where proto3 JSON would use base64."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ID_KEYS and isinstance(x, str):
                out[k] = base64.b64encode(bytes.fromhex(x)).decode()
            else:
                out[k] = hex_ids_to_base64(x)
        return out
    if isinstance(v, list):
        return [hex_ids_to_base64(x) for x in v]
    return v


def ids_to_hex(v):
    """Show ids as hex in the output, whatever the wire encoding was."""
    if isinstance(v, dict):
        return {k: (base64.b64decode(x).hex() if k in ID_KEYS and isinstance(x, str) else ids_to_hex(x))
                for k, x in v.items()}
    if isinstance(v, list):
        return [ids_to_hex(x) for x in v]
    return v


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        encoding = (self.headers.get("Content-Encoding") or "").strip().lower()
        if encoding == "gzip":
            data = gzip.decompress(data)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        kind = KINDS.get(self.path)
        if kind is None:
            self.reply(404, b"", "text/plain")
            return
        req_cls, resp_cls = kind
        req = req_cls()
        try:
            if ctype == "application/x-protobuf":
                req.ParseFromString(data)
            elif ctype == "application/json":
                json_format.Parse(json.dumps(hex_ids_to_base64(json.loads(data))), req)
            else:
                raise ValueError("unsupported content type " + ctype)
        except Exception as e:  # noqa: BLE001 - any decode failure is the finding
            with LOCK, open(OUT, "a") as f:
                f.write(json.dumps({"path": self.path, "content_type": ctype, "error": str(e)}) + "\n")
            self.reply(400, str(e).encode(), "text/plain")
            return
        rec = {
            "path": self.path,
            "content_type": ctype,
            "user_agent": self.headers.get("User-Agent", ""),
            "headers": {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-")},
            "request": ids_to_hex(json_format.MessageToDict(req, preserving_proto_field_name=True)),
        }
        with LOCK, open(OUT, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
        if ctype == "application/json":
            self.reply(200, b"{}", "application/json")
        else:
            self.reply(200, resp_cls().SerializeToString(), "application/x-protobuf")


ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
if os.environ.get("RECEIVER_TLS_CERT"):
    # Serve HTTPS (an OTLP collector behind TLS) with the given certificate and key.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["RECEIVER_TLS_CERT"], os.environ["RECEIVER_TLS_KEY"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
