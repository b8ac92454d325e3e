# ember-fn test HTTP function (prepare --http 8080): a server on Python's
# http.server, as a function written for Knative or OpenFaaS's of-watchdog
# would be. POST / and /echo answer JSON with a custom header; GET / is the
# health check prepare's warm-up uses; other paths are 404; POST /crash
# dies mid-request. "fresh" is false when a marker from an earlier request
# is there: a clone reused (serve --reuse), not a fresh VM.
import base64
import hashlib
import http.server
import json
import os
import sys
import urllib.parse

MARKER = "/tmp/ember-fn-http-marker"
PORT = int(os.environ.get("PORT", "8080"))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Fn-Lang", "python")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/":
            return self.answer(200, {"ok": True})
        self.answer(404, {"error": "no route " + url.path})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if url.path == "/crash":
            sys.stderr.write("crashing on purpose in %s\n" % url.path)
            sys.stderr.flush()
            os._exit(3)
        if url.path not in ("/", "/echo"):
            return self.answer(404, {"error": "no route " + url.path})
        fresh = not os.path.exists(MARKER)
        with open(MARKER, "a") as f:
            f.write("x")
        req = json.loads(body or b"{}")
        name = str(req.get("name", "")).lower()
        self.answer(200, {
            "fresh": fresh,
            "n": req.get("n"),
            "hello": name,
            "digest": hashlib.sha256(name.encode()).hexdigest()[:12],
            "b64": base64.b64encode(name.encode()).decode(),
            "method": self.command,
            "path": url.path,
            "query": dict(urllib.parse.parse_qsl(url.query)),
            "request_id": self.headers.get("X-Request-Id"),
            "cwd": os.getcwd(),
            "env": os.environ.get("FN_MODE"),
        })

    def log_message(self, fmt, *args):
        sys.stdout.write("request: %s\n" % (fmt % args))
        sys.stdout.flush()


print("server: listening on port", PORT, flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
