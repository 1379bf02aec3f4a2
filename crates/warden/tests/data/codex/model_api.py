"""A loopback stand-in for the OpenAI Responses API, so the real Codex CLI can be driven without a
model: the n-th POST to /responses is answered (as a server-sent event stream) with the n-th
scripted tool call, every later one with a short text. Usage: model_api.py SCRIPT.json LOG.jsonl;
prints its port. Each script entry is {"name": TOOL, "arguments": {...}} (a function call) or
{"name": TOOL, "input": TEXT} (a freeform call such as apply_patch); the log gets one line per
request with the tool outputs Codex sent back (what the agent saw)."""

import http.server
import json
import sys
import threading

SCRIPT = json.load(open(sys.argv[1]))
LOG = open(sys.argv[2], "a")
LOCK = threading.Lock()
STATE = {"calls": 0}


def event(kind, body):
    body = dict(body, type=kind)
    return ("event: %s\ndata: %s\n\n" % (kind, json.dumps(body))).encode()


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
        self.send_body(b'{"data": [], "models": []}', "application/json")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        outputs = [i for i in req.get("input", []) if isinstance(i, dict)
                   and i.get("type", "").endswith("_call_output")]
        with LOCK:
            k = STATE["calls"]
            STATE["calls"] += 1
        LOG.write(json.dumps({"path": self.path, "call": k, "outputs": outputs}) + "\n")
        LOG.flush()
        rid = "resp_%d" % k
        chunks = [event("response.created", {"response": {"id": rid, "status": "in_progress"}})]
        if k < len(SCRIPT):
            call = SCRIPT[k]
            if "input" in call:  # a freeform tool such as apply_patch
                item = {"type": "custom_tool_call", "id": "ctc_%d" % k, "call_id": "call_%d" % k,
                        "name": call["name"], "input": call["input"]}
            else:
                item = {"type": "function_call", "id": "fc_%d" % k, "call_id": "call_%d" % k,
                        "name": call["name"], "arguments": json.dumps(call["arguments"])}
        else:
            item = {"type": "message", "role": "assistant", "id": "msg_%d" % k,
                    "content": [{"type": "output_text", "text": "done"}]}
        chunks.append(event("response.output_item.done", {"item": item}))
        # The whole response again at the end, as the API sends it (clients differ in which they read).
        chunks.append(event("response.completed", {"response": {
            "id": rid, "object": "response", "status": "completed", "output": [item], "usage": {"input_tokens": 10, "input_tokens_details": None,
                                 "output_tokens": 5, "output_tokens_details": None,
                                 "total_tokens": 15}}}))
        self.send_body(b"".join(chunks), "text/event-stream")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
