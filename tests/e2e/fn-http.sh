#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: HTTP functions (ember-fn prepare --http). The Python image's
# CMD, its server (tests/fn/python-image/server.py), is started before the
# snapshot;
# serve forwards each request to a fresh clone of it with its method, path,
# query, headers and body, and the function's status, headers and body
# come back: a JSON POST with a custom header, a 404 of the function's,
# 502 with its output when it dies mid-request, 20 requests each in a
# fresh VM, invoke, and --reuse. A server that never starts fails prepare
# with its output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fn_e2e_setup
efn() { timeout 600 "$fn" "$@" --store "$store"; }

# A server that exits before it listens: prepare fails with its output.
rc=0
efn prepare "$top/tests/fn/http-broken" --http 8080 >/dev/null 2>"$E2E_TMP/broken.err" || rc=$?
expect broken "a server that never starts: prepare fails (125) with its exit status and output" \
	bash -c "[ $rc = 125 ] && grep -q 'exited (status 3)' $E2E_TMP/broken.err &&
		grep -q 'giving up' $E2E_TMP/broken.err && [ ! -e $store/http-broken/current ]"

py=${EMBER_FN_PYTHON:-}
if [ -z "$py" ] || [ ! -s "$py/index.json" ]; then
	fail "the Python image: EMBER_FN_PYTHON names no OCI layout (make kvm-test builds it with tests/images/fn-lang python)"
	e2e_summary
	exit 1
fi
rc=0
ticking efn prepare --image "oci:$py:fn" --name pyhttp --http 8080 >/dev/null \
	2>"$E2E_TMP/prep.err" || rc=$?
echo "    ($(tail -1 "$E2E_TMP/prep.err"))"
expect prep "prepare --http 8080: the server answering, warmed up, in the snapshot" \
	bash -c "[ $rc = 0 ] && jq -e '.http_port == 8080' $store/pyhttp/current/meta.json >/dev/null"

# serve, a fresh clone per request. File restores: see fn-image.sh.
port=$((20000 + $$ % 20000))
"$fn" serve --store "$store" --listen "127.0.0.1:$port" --max-vms 2 --no-prefetch \
	--timeout 120000 >/dev/null 2>"$E2E_TMP/serve.err" &
serve=$!
pids+=("$serve")
url=http://127.0.0.1:$port
wait_http "$url/stats" "$serve" 60 || fail "serve did not come up" "$E2E_TMP/serve.err"
# req NAME CURL-ARGS...: the status code; headers and body in $E2E_TMP/NAME.{hdr,body}
req() {
	local name=$1
	shift
	curl -s --max-time 180 -D "$E2E_TMP/$name.hdr" -o "$E2E_TMP/$name.body" -w '%{http_code}' "$@" ||
		echo 000
}
code=$(req post -X POST -H 'Content-Type: application/json' -H 'X-Request-Id: req-42' \
	--data '{"name": "Ember", "n": 1}' "$url/fn/pyhttp/echo?lang=c&x=1")
expect post "a JSON POST: 200, the function's header and JSON, its method, path, query and our header" \
	bash -c "[ $code = 200 ] && grep -qi '^X-Fn-Lang: python' $E2E_TMP/post.hdr &&
		grep -qi '^Content-Type: application/json' $E2E_TMP/post.hdr &&
		jq -en 'input | .fresh and .hello == \"ember\" and .method == \"POST\" and .path == \"/echo\" and
			.query == {\"lang\": \"c\", \"x\": \"1\"} and .request_id == \"req-42\" and
			.cwd == \"/app\" and .env == \"image\"' <$E2E_TMP/post.body >/dev/null"
code=$(req nf "$url/fn/pyhttp/nowhere")
expect nf "the function's 404 passes through as 404, with its body" \
	bash -c "[ $code = 404 ] && grep -q 'no route /nowhere' $E2E_TMP/nf.body"
code=$(req crash -X POST --data x "$url/fn/pyhttp/crash")
expect crash "a function that dies mid-request: 502 with its output" \
	bash -c "[ $code = 502 ] && grep -q 'crashing on purpose' $E2E_TMP/crash.body"

bad=0
t0=$(date +%s%N)
for i in $(seq 1 20); do
	code=$(req r -X POST --data "{\"name\": \"n$i\", \"n\": $i}" "$url/fn/pyhttp")
	[ "$code" = 200 ] && jq -en --argjson n "$i" 'input | .fresh and .n == $n' <"$E2E_TMP/r.body" >/dev/null 2>&1 ||
		{ bad=$((bad + 1)); echo "request $i: $code $(cat "$E2E_TMP/r.body")" >>"$E2E_TMP/r20.err"; }
	((i % 5)) || echo "    ($i of 20 requests, $bad failed)"
done
echo "    (20 requests in $((($(date +%s%N) - t0) / 1000000)) ms)"
cat "$E2E_TMP/serve.err" >>"$E2E_TMP/r20.err"
expect r20 "20 requests through serve, each in a fresh VM (no marker of an earlier one)" \
	bash -c "[ $bad = 0 ]"
kill -TERM "$serve"
wait_exit "$serve" 60

rc=0
out=$(echo '{"name": "Invoke", "n": 7}' | efn invoke pyhttp --no-prefetch 2>"$E2E_TMP/inv.err") || rc=$?
expect inv "invoke of an HTTP function: POST / with stdin, the body on stdout" \
	bash -c "[ $rc = 0 ] && echo '$out' | jq -en 'input | .fresh and .n == 7 and .path == \"/\"' >/dev/null"

# --reuse 3, one VM: requests 1-3 share a clone, the 4th gets a new one.
"$fn" serve --store "$store" --listen "127.0.0.1:$port" --max-vms 1 --no-prefetch --reuse 3 \
	--timeout 120000 >/dev/null 2>"$E2E_TMP/reuse.err" &
serve=$!
pids+=("$serve")
wait_http "$url/stats" "$serve" 60 || fail "serve --reuse did not come up" "$E2E_TMP/reuse.err"
fresh=""
for i in 1 2 3 4; do
	code=$(req ru -X POST --data "{\"n\": $i}" "$url/fn/pyhttp")
	fresh="$fresh $code:$(jq -r .fresh "$E2E_TMP/ru.body" 2>/dev/null || echo '?')"
done
echo "    (fresh per request:$fresh)"
expect reuse "serve --reuse 3: three requests in one clone, then a fresh one" \
	bash -c "[ '$fresh' = ' 200:true 200:false 200:false 200:true' ] &&
		grep -q 'weaker isolation' $E2E_TMP/reuse.err"
kill -TERM "$serve"
wait_exit "$serve" 60
expect gone "serve stopped: no ember process and no run directory left" \
	bash -c "[ \$(pgrep -c -x ember || true) = 0 ] && [ \$(ls -d /tmp/ember-fn.* 2>/dev/null | wc -l) = 0 ]"

e2e_summary
