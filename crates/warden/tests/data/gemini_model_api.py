"""A loopback stand-in for the Gemini API, so the real Gemini CLI can be driven without a model
(GOOGLE_GEMINI_BASE_URL): the n-th content request that offers tools is answered with the n-th
scripted function call, every other request with a short text. Usage: gemini_model_api.py
SCRIPT.json LOG.jsonl; prints its port. Each script entry is {"name": TOOL, "args": {...}}; the log
gets one line per request with the function responses Gemini sent back (what the agent saw)."""

import http.server
import json
import sys
import threading

SCRIPT = json.load(open(sys.argv[1]))
LOG = open(sys.argv[2], "a")
LOCK = threading.Lock()
STATE = {"calls": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, body, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send_body(b'{"models": []}', "application/json")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        if ":countTokens" in self.path:
            return self.send_body(b'{"totalTokens": 10}', "application/json")
        responses = [p["functionResponse"] for c in req.get("contents", [])
                     for p in c.get("parts", []) if "functionResponse" in p]
        with LOCK:
            offers_tools = bool(req.get("tools"))
            k = STATE["calls"] if offers_tools else len(SCRIPT)
            if offers_tools:
                STATE["calls"] += 1
        LOG.write(json.dumps({"path": self.path, "call": k, "responses": responses}) + "\n")
        LOG.flush()
        if k < len(SCRIPT):
            parts = [{"functionCall": {"name": SCRIPT[k]["name"], "args": SCRIPT[k]["args"]}}]
        elif req.get("generationConfig", {}).get("responseMimeType") == "application/json":
            # The CLI's own helper calls (model routing, next-speaker checks) want JSON.
            parts = [{"text": json.dumps({"reasoning": "scripted", "model_choice": "flash",
                                          "next_speaker": "user"})}]
        else:
            parts = [{"text": "done"}]
        chunk = {"candidates": [{"content": {"role": "model", "parts": parts},
                                 "finishReason": "STOP", "index": 0}],
                 "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
                                   "totalTokenCount": 15}}
        if "alt=sse" in self.path or "streamGenerateContent" in self.path:
            self.send_body(("data: %s\n\n" % json.dumps(chunk)).encode(), "text/event-stream")
        else:
            self.send_body(json.dumps(chunk).encode(), "application/json")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
