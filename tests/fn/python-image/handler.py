# ember-fn test function from a container image (Debian's python3):
# imports what a typical handler imports, reads a JSON request on stdin and
# answers JSON. Every request must run in a fresh VM: a marker left in /tmp
# by an earlier request fails this one.
import base64
import datetime
import hashlib
import json
import os
import re
import sys
import urllib.parse

MARKER = "/tmp/ember-fn-marker"

body = sys.stdin.read()
if not body:  # the warm-up request (ember-fn prepare) sends nothing
    sys.exit(0)
if os.path.exists(MARKER):
    with open(MARKER) as f:
        sys.stderr.write("stale VM: request %s ran here before\n" % f.read())
    sys.exit(9)
req = json.loads(body)
with open(MARKER, "w") as f:
    f.write(str(req.get("n")))
name = re.sub(r"[^a-z]", "", str(req.get("name", "")).lower())
print(json.dumps({
    "hello": name,
    "n": req.get("n"),
    "digest": hashlib.sha256(name.encode()).hexdigest()[:12],
    "b64": base64.b64encode(name.encode()).decode(),
    "query": urllib.parse.urlencode({"name": name}),
    "year_ok": datetime.date.today().year >= 2024,
    "cwd": os.getcwd(),
    "env": os.environ.get("FN_MODE"),
    "python": sys.version.split()[0],
}))
