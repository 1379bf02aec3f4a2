"""A loopback stand-in for the model API, so the real Claude Code CLI can be driven without a
model: the n-th request that offers tools is answered with the n-th scripted tool call, every
later one with a short text. Usage: model_api.py SCRIPT.json LOG.jsonl; prints its port."""

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

    def do_HEAD(self):
        self.send_body(b"", "application/json")

    def do_GET(self):
        self.send_body(b"{}", "application/json")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        if "count_tokens" in self.path:
            return self.send_body(b'{"input_tokens": 10}', "application/json")
        with LOCK:
            k = STATE["calls"] if req.get("tools") else len(SCRIPT)
            if req.get("tools"):
                STATE["calls"] += 1
        LOG.write(json.dumps({"path": self.path, "call": k}) + "\n")
        LOG.flush()
        if k < len(SCRIPT):
            call = SCRIPT[k]
            blocks = [{"type": "tool_use", "id": "toolu_fake%02d" % k,
                       "name": call["name"], "input": call["input"]}]
            stop = "tool_use"
        else:
            blocks = [{"type": "text", "text": "done"}]
            stop = "end_turn"
        usage = {"input_tokens": 1, "output_tokens": 1}
        if not req.get("stream"):
            msg = {"id": "msg_%d" % k, "type": "message", "role": "assistant", "model": "m",
                   "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage}
            return self.send_body(json.dumps(msg).encode(), "application/json")
        events = [("message_start", {"type": "message_start", "message": {
            "id": "msg_%d" % k, "type": "message", "role": "assistant", "model": "m",
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}})]
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                start = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": b["text"]}
            else:
                start = {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(b["input"])}
            events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": start}))
            events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                   "delta": delta}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(("message_delta", {"type": "message_delta", "usage": {"output_tokens": 1},
                                         "delta": {"stop_reason": stop, "stop_sequence": None}}))
        events.append(("message_stop", {"type": "message_stop"}))
        body = "".join("event: %s\ndata: %s\n\n" % (e, json.dumps(d)) for e, d in events)
        self.send_body(body.encode(), "text/event-stream")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
