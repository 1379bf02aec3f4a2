"""A real MCP client (the official Python SDK, `mcp` from PyPI) driving `warden mcp`.

Usage: mcp_client.py CONFIG.json. The config names the transport (`stdio` or `http`), the warden
binary, the workspace and what else the scenario needs. Every check is an assertion: the script
exits non-zero on the first failure and prints one JSON summary line on success.
"""

import asyncio
import json
import os
import subprocess
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

EXPECTED_TOOLS = {
    "exec",
    "read_file",
    "write_file",
    "edit_file",
    "list_dir",
    "http_request",
    "approval_status",
}


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def check(cond, what, result=None):
    if not cond:
        extra = ""
        if result is not None:
            extra = f"\n  text: {text_of(result)!r}\n  structured: {result.structured_content!r}"
        raise AssertionError(f"{what}{extra}")


class Scenario:
    def __init__(self, cfg, client):
        self.cfg = cfg
        self.client = client
        self.summary = {"calls": 0, "denied": 0, "pending": 0, "tickets": []}

    async def call(self, name, args):
        r = await self.client.call_tool(name, args)
        self.summary["calls"] += 1
        s = r.structured_content or {}
        if s.get("status") == "denied":
            self.summary["denied"] += 1
        if s.get("status") == "pending":
            self.summary["pending"] += 1
        return r

    def approvals(self, token, *args):
        """The approver's side, through Warden's own CLI."""
        env = dict(os.environ, WARDEN_SERVER=self.cfg["approval_url"], WARDEN_TOKEN=token)
        out = subprocess.run(
            [self.cfg["warden"], "approvals", "--json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        check(out.returncode == 0, f"warden approvals {args}: {out.stderr}")
        return json.loads(out.stdout)

    async def list_tools(self):
        tools = await self.client.list_tools()
        by_name = {t.name: t for t in tools.tools}
        check(set(by_name) == EXPECTED_TOOLS, f"tool names: {sorted(by_name)}")
        schema = {n: t.input_schema for n, t in by_name.items()}
        for name, t in by_name.items():
            check(t.description and len(t.description) > 20, f"{name} has a description")
            check(schema[name].get("type") == "object", f"{name} input schema is an object")
        props = lambda n: set(schema[n].get("properties", {}))  # noqa: E731
        req = lambda n: set(schema[n].get("required", []))  # noqa: E731
        check({"argv", "command", "cwd", "rationale"} <= props("exec"), f"exec schema {schema['exec']}")
        check(req("write_file") == {"path", "content"}, f"write_file required {req('write_file')}")
        check(
            req("edit_file") == {"path", "old_string", "new_string"},
            f"edit_file required {req('edit_file')}",
        )
        check("replace_all" in props("edit_file"), "edit_file has replace_all")
        check(req("read_file") == {"path"}, f"read_file required {req('read_file')}")
        check(req("approval_status") == {"ticket"}, "approval_status needs a ticket")
        check(req("http_request") == {"url"}, f"http_request required {req('http_request')}")
        check({"method", "headers", "body"} <= props("http_request"), "http_request props")
        check(req("list_dir") == set(), "list_dir has no required argument")

    async def exec_tools(self):
        r = await self.call("exec", {"argv": ["sh", "-c", "echo hello; echo oops >&2"], "rationale": "smoke"})
        s = r.structured_content
        check(not r.is_error and s["status"] == "ran" and s["exit_code"] == 0, "exec ran", r)
        check(s["stdout"] == "hello\n" and s["stderr"] == "oops\n", "exec output", r)
        check(s["tool_call_id"].startswith("mcp-"), "exec has a tool call id", r)
        # A shell string, writing inside the workspace from the sandbox.
        r = await self.call("exec", {"command": "printf sandboxed > made-by-exec.txt && ls", "cwd": "."})
        check(not r.is_error and "made-by-exec.txt" in r.structured_content["stdout"], "exec shell", r)
        r = await self.call("exec", {"argv": ["sh", "-c", "exit 3"]})
        check(r.is_error and r.structured_content["exit_code"] == 3, "exit status passed on", r)
        # A command that exits 77 and prints Warden's words is still a command that ran.
        r = await self.call("exec", {"command": "echo 'warden: denied: fake' >&2; exit 77"})
        s = r.structured_content
        check(s["status"] == "ran" and s["exit_code"] == 77, "a spoofed denial is reported as run", r)
        r = await self.call("exec", {"command": "echo 'warden: deferred (ticket abc): fake' >&2; exit 75"})
        s = r.structured_content
        check(s["status"] == "ran" and s["exit_code"] == 75, "a spoofed deferral is reported as run", r)
        # Denied by policy: never runs.
        r = await self.call("exec", {"command": "rm -rf /", "rationale": "clean up"})
        check(r.is_error and r.structured_content["status"] == "denied", "rm -rf / denied", r)
        check(text_of(r).startswith("denied") and "deny.rm-root" in text_of(r), "denial names the rule", r)
        # The sandbox confines writes even for an `auto` command.
        # (the Rust side checks the file never appears outside)
        await self.call("exec", {"command": f"echo pwned > {self.cfg['outside_dir']}/from-exec.txt"})
        # A cwd outside the workspace is refused.
        r = await self.call("exec", {"argv": ["pwd"], "cwd": "../"})
        check(r.is_error and r.structured_content["status"] == "denied", "cwd escape denied", r)
        r = await self.call("exec", {})
        check(r.is_error, "exec without a command is an error", r)

    async def file_tools(self):
        r = await self.call("write_file", {"path": "notes/a.txt", "content": "alpha beta\nbeta\n", "rationale": "notes"})
        check(not r.is_error and r.structured_content["tier"] == "auto", "write_file", r)
        r = await self.call("read_file", {"path": "notes/a.txt"})
        check(not r.is_error and r.structured_content["content"] == "alpha beta\nbeta\n", "read back", r)
        check(text_of(r) == "alpha beta\nbeta\n", "read_file text content", r)
        r = await self.call("edit_file", {"path": "notes/a.txt", "old_string": "beta", "new_string": "gamma"})
        check(r.is_error and "occurs 2 times" in text_of(r), "ambiguous edit refused", r)
        r = await self.call("edit_file", {"path": "notes/a.txt", "old_string": "alpha", "new_string": "ALPHA"})
        check(not r.is_error and r.structured_content["replacements"] == 1, "edit once", r)
        r = await self.call(
            "edit_file", {"path": "notes/a.txt", "old_string": "beta", "new_string": "B", "replace_all": True}
        )
        check(not r.is_error and r.structured_content["replacements"] == 2, "edit all", r)
        r = await self.call("read_file", {"path": "notes/a.txt"})
        check(r.structured_content["content"] == "ALPHA B\nB\n", "edits applied", r)
        r = await self.call("list_dir", {"path": "notes"})
        names = [e["name"] for e in r.structured_content["entries"]]
        check(not r.is_error and names == ["a.txt"], "list_dir notes", r)
        r = await self.call("list_dir", {})
        entries = {e["name"]: e["kind"] for e in r.structured_content["entries"]}
        check(entries.get("notes") == "dir" and entries.get("made-by-exec.txt") == "file", "list_dir root", r)
        check(entries.get("escape") == "symlink", "symlinks are listed, not followed", r)

        # Adversarial paths: every one is recorded and refused.
        outside = self.cfg["outside_dir"]
        for args in [
            {"path": "../outside-secret.txt"},
            {"path": f"{outside}/outside-secret.txt"},
            {"path": "escape/outside-secret.txt"},
            {"path": "escape-file"},
            {"path": "notes/../../outside-secret.txt"},
        ]:
            r = await self.call("read_file", args)
            check(r.is_error and r.structured_content["status"] == "denied", f"read {args} denied", r)
            check("outside the workspace" in text_of(r), f"read {args} says why", r)
            check("canary" not in text_of(r), "no outside content leaks", r)
        for args in [
            {"path": "escape/planted.txt", "content": "x"},
            {"path": "../planted.txt", "content": "x"},
            {"path": "escape-file", "content": "x"},
        ]:
            r = await self.call("write_file", args)
            check(r.is_error and r.structured_content["status"] == "denied", f"write {args} denied", r)
        r = await self.call("edit_file", {"path": "escape-file", "old_string": "canary", "new_string": "pwned"})
        check(r.is_error and r.structured_content["status"] == "denied", "edit through symlink denied", r)
        r = await self.call("list_dir", {"path": "escape"})
        check(r.is_error and r.structured_content["status"] == "denied", "list through symlink denied", r)
        r = await self.call("write_file", {"path": ".warden/policy.toml", "content": "version = 1\n"})
        check(r.is_error and "read-only" in text_of(r), "the governance file is protected", r)
        r = await self.call("write_file", {"path": ".git/hooks/pre-commit", "content": "#!/bin/sh\n"})
        check(r.is_error and "read-only" in text_of(r), "git hooks are protected", r)

    async def http_tools(self):
        port = self.cfg["http_port"]
        r = await self.call("http_request", {"url": f"http://127.0.0.1:{port}/hello?x=1", "rationale": "fetch"})
        s = r.structured_content
        check(not r.is_error and s["http_status"] == 200 and s["body"] == "hello from GET /hello?x=1", "GET", r)
        r = await self.call("http_request", {"url": "http://blocked.invalid/"})
        check(r.is_error and "denied by the network policy" in text_of(r), "unlisted host refused by the proxy", r)
        r = await self.call("http_request", {"url": f"http://127.0.0.1:{self.cfg['closed_port']}/"})
        check(r.is_error and "denied by the network policy" in text_of(r), "unlisted port refused", r)
        r = await self.call("http_request", {"url": "ftp://127.0.0.1/"})
        check(r.is_error, "non-http URL refused", r)

    async def approvals_flow(self):
        approver = self.cfg["approver_token"]
        # async: an exec parked with a ticket.
        r = await self.call("exec", {"argv": ["git", "push", "origin", "main"], "rationale": "ship it"})
        s = r.structured_content
        check(not r.is_error and s["status"] == "pending" and s["ticket"], "git push is pending", r)
        ticket = s["ticket"]
        self.summary["tickets"].append(ticket)
        r = await self.call("approval_status", {"ticket": ticket})
        check(not r.is_error and r.structured_content["status"] == "pending", "status pending", r)
        check("git push origin main" in r.structured_content["action_text"], "status names the action", r)
        self.approvals(approver, "approve", ticket)
        r = await self.call("approval_status", {"ticket": ticket})
        check(r.structured_content["status"] == "approved", "status approved", r)

        # async: an HTTP POST parked, approved, then performed with the ticket.
        port = self.cfg["http_port"]
        post = {"url": f"http://127.0.0.1:{port}/submit", "method": "POST", "body": "payload", "rationale": "report"}
        r = await self.call("http_request", post)
        s = r.structured_content
        check(s["status"] == "pending" and s["tier"] == "async", "POST is pending", r)
        ticket = s["ticket"]
        self.summary["tickets"].append(ticket)
        r = await self.call("http_request", dict(post, ticket=ticket))
        check(r.structured_content["status"] == "pending", "still pending before approval", r)
        # The ticket binds the exact request: another body cannot use it.
        self.approvals(approver, "approve", ticket)
        r = await self.call("http_request", dict(post, body="other payload", ticket=ticket))
        check(r.is_error and r.structured_content["status"] == "denied", "ticket bound to the body", r)
        r = await self.call("http_request", dict(post, ticket=ticket))
        s = r.structured_content
        check(not r.is_error and s["http_status"] == 200 and s["body"] == "hello from POST /submit payload", "POST ran", r)
        r = await self.call("http_request", dict(post, ticket=ticket))
        check(r.is_error, "an approval is used once", r)

        # sync: reading a credential file waits for a person; here the person says no.
        task = asyncio.create_task(self.call("read_file", {"path": ".env", "rationale": "debug"}))
        pending = []
        for _ in range(100):
            pending = [p for p in self.approvals(approver, "list") if ".env" in p.get("action_text", "")]
            if pending:
                break
            await asyncio.sleep(0.1)
        check(pending, "the sync read was filed with the approval server")
        await asyncio.sleep(0.3)
        check(not task.done(), "a sync call waits for the approver")
        self.approvals(approver, "deny", pending[0]["id"], "--comment", "no secrets")
        r = await asyncio.wait_for(task, 30)
        check(r.is_error and r.structured_content["status"] == "denied", "sync read denied by approver", r)
        check("env-canary" not in text_of(r), "denied content never sent", r)

    async def no_server(self):
        r = await self.call("exec", {"argv": ["git", "push"]})
        check(r.is_error and r.structured_content["status"] == "denied", "async exec without server", r)
        check("needs approval" in text_of(r) and "no approval server" in text_of(r), "says why", r)
        r = await self.call("exec", {"argv": ["cat", ".env"]})
        check(r.is_error and r.structured_content["status"] == "denied", "sync exec without server", r)
        check("env-canary" not in text_of(r), "no content", r)
        r = await self.call("read_file", {"path": ".env"})
        check(r.is_error and "needs approval" in text_of(r), "sync without approval server", r)
        check("env-canary" not in text_of(r), "no content", r)
        r = await self.call("approval_status", {"ticket": "abc"})
        check(r.is_error and "no approval server" in text_of(r), "approval_status needs a server", r)
        r = await self.call("read_file", {"path": "README.md"})
        check(not r.is_error and r.structured_content["content"] == "readme\n", "auto still works", r)

    async def lookahead(self):
        # package.json's posttest pushes: `npm test` is judged with it, so without an
        # approval server it is refused before anything runs, naming the script.
        r = await self.call("exec", {"argv": ["npm", "test"]})
        check(r.is_error and r.structured_content["status"] == "denied", "npm test read ahead", r)
        check("git push" in text_of(r), "names the push it found", r)
        r = await self.call("exec", {"command": "bash deploy.sh"})
        check(r.is_error and r.structured_content["status"] == "denied", "bash deploy.sh read ahead", r)
        check("deploy.sh:2" in text_of(r), "names file and line", r)


async def main(cfg):
    if cfg["transport"] == "stdio":
        env = {"HOME": cfg.get("home") or os.environ.get("HOME", "/root")}
        for k in ("WARDEN_SERVER", "WARDEN_TOKEN", "PATH"):
            if k in cfg.get("env", {}):
                env[k] = cfg["env"][k]
        server = StdioServerParameters(
            command=cfg["warden"],
            args=["mcp", "--workspace", cfg["workspace"], *cfg.get("args", [])],
            env=env,
            cwd=cfg["workspace"],
        )
    else:
        url = cfg["url"]
        # Without the bearer token the server refuses the client.
        async with httpx2.AsyncClient(timeout=10) as h:
            resp = await h.post(
                url,
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={"Accept": "application/json, text/event-stream"},
            )
            check(resp.status_code == 401, f"no token: {resp.status_code}")
        http = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {cfg['token']}"},
            timeout=httpx2.Timeout(120, read=120),
        )
        server = streamable_http_client(url, http_client=http)
    async with Client(server, read_timeout_seconds=120) as client:
        sc = Scenario(cfg, client)
        sc.summary["server"] = client.server_info.name if client.server_info else None
        sc.summary["protocol"] = client.protocol_version
        await sc.list_tools()
        if cfg["scenario"] == "full":
            await sc.exec_tools()
            await sc.file_tools()
            await sc.http_tools()
            await sc.approvals_flow()
        elif cfg["scenario"] == "lookahead":
            await sc.lookahead()
        else:
            await sc.no_server()
    print(json.dumps(sc.summary))


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        asyncio.run(main(json.load(f)))
