#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: ember-fn prepares functions (disk, boot, warm-up, snapshot)
# and runs every request in a fresh clone of the snapshot: invoke from the
# command line, then serve over HTTP with concurrency, errors and overload;
# after 100 requests (EMBER_FN_REQUESTS) nothing has leaked.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fn_e2e_setup
rc=0
efn() { timeout 300 "$fn" "$@" --store "$store"; }

# prepare: the disk, a boot, the warm-up request, the snapshot.
efn prepare "$top/tests/fn/reverse" >"$E2E_TMP/prep.out" 2>"$E2E_TMP/prep.err" || rc=$?
echo "    ($(tail -1 "$E2E_TMP/prep.err"))"
expect prep "ember-fn prepare: a snapshot of the warmed-up function in the store" \
	bash -c "[ $rc = 0 ] && [ -s $store/reverse/current/snap.state ] && [ -s $store/reverse/current/fn.ext4 ]"

# invoke: the first one records the working set through the Uffd pager.
rc=0
out=$(echo hello | efn invoke reverse --timings 2>"$E2E_TMP/inv.err") || rc=$?
echo "    (first invoke: $(grep -o '"mode": "[^"]*"' "$E2E_TMP/inv.err" || true))"
expect inv "ember-fn invoke answers from a snapshot clone (the input reversed)" \
	bash -c "[ $rc = 0 ] && [ '$out' = 'reversed:olleh' ]"
expect inv "the first invocation recorded the working set beside the snapshot" \
	bash -c "grep -q '\"mode\": \"Uffd+record\"' $E2E_TMP/inv.err && [ -s $store/reverse/current/ws.pages ]"
expect inv "--timings: ember's account of the load, step by step (state file, VM, memory, devices, vCPUs, state)" \
	bash -c "tail -1 $E2E_TMP/inv.err | jq -en 'input | .ember_us as \$e | \$e.load_snapshot > 0 and \$e.create_vm >= 0
		and \$e.restore_state > 0 and \$e.read_state + \$e.create_vm + \$e.memory + \$e.devices + \$e.vcpus
		+ \$e.restore_state <= \$e.load_snapshot' >/dev/null"
# (how many: the counters are the guest's business; a Uffd guest may wait
# on one fault for all of the 100 ms under load)
expect inv "--timings: what the guest made KVM do in its first 100 ms after resume (exits, nested page faults, the host's faults), and the clone's phases in order" \
	bash -c "tail -1 $E2E_TMP/inv.err | jq -en 'input | .ember_us.first_100ms as \$f
		| ([\$f.exits, \$f.pf_taken, \$f.pf_fixed, \$f.io_exits, \$f.mmio_exits, \$f.halt_exits, \$f.host_minflt,
		   \$f.host_majflt] | all(type == \"number\" and . >= 0 and . == floor))
		and .api_ready_us <= .load_us and .load_us <= .connect_us and .connect_us <= .answer_us' >/dev/null"

# 20 in a row: all correct, each in a fresh VM (the function fails on a stale marker).
bad=0
t0=$(date +%s%N)
for i in $(seq 1 20); do
	rc=0
	out=$(echo "request $i" | efn invoke reverse 2>>"$E2E_TMP/twenty.err") || rc=$?
	want="reversed:$(echo "request $i" | rev)"
	[ $rc = 0 ] && [ "$out" = "$want" ] || { bad=$((bad + 1)); echo "request $i: rc=$rc out=$out" >>"$E2E_TMP/twenty.err"; }
done
echo "    (20 invokes in $((($(date +%s%N) - t0) / 1000000)) ms)"
rc=$bad
expect twenty "20 invokes in a row: all correct, each saw a fresh VM" bash -c "[ $bad = 0 ]"

for mode in "--backend uffd:Uffd+prefetch" "--backend uffd --no-prefetch:Uffd" "--no-prefetch:File" \
	"--backend file:File+prefetch"; do
	rc=0
	out=$(echo abc | efn invoke reverse ${mode%%:*} --timings 2>"$E2E_TMP/mode.err") || rc=$?
	expect mode "invoke ${mode%%:*}: restored as ${mode##*:} and answers" \
		bash -c "[ $rc = 0 ] && [ '$out' = 'reversed:cba' ] && grep -q '\"mode\": \"${mode##*:}\"' $E2E_TMP/mode.err"
	tail -1 "$E2E_TMP/mode.err" >>"$E2E_TMP/modes.json"
done
# KVM's counters are read: the File restores' guests run at once, and take
# exits (nested page faults at least) as they touch their memory
expect mode "KVM counted the restored guests' exits in their first 100 ms (KVM_GET_STATS_FD)" \
	bash -c "jq -se '[.[].ember_us.first_100ms.exits] | any(. > 0)' $E2E_TMP/modes.json >/dev/null"
# the last one: File with the working set, which ember faulted in before the VM ran
expect mode "File+prefetch: ember faulted the working set's pages in before the VM ran (MADV_POPULATE_READ; KVM_PRE_FAULT_MEMORY where KVM has it)" \
	bash -c "tail -1 $E2E_TMP/mode.err | jq -en 'input | .ember_us.prefaulted as \$p | \$p.pages > 0
		and \$p.populated == \$p.pages and (if \$p.kvm then \$p.kvm_mapped > 0 else \$p.kvm_mapped == 0 end)
		and .ember_us.prefault > 0' >/dev/null"

rc=0
echo x | efn invoke nosuch >"$E2E_TMP/nosuch.out" 2>"$E2E_TMP/nosuch.err" || rc=$?
expect nosuch "invoke of an unknown function: 125 and a message naming it" \
	bash -c "[ $rc = 125 ] && grep -q 'no function \"nosuch\"' $E2E_TMP/nosuch.err"

efn prepare "$top/tests/fn/failing" >/dev/null 2>"$E2E_TMP/pf.err"
rc=0
out=$(echo x | efn invoke failing 2>"$E2E_TMP/failing.err") || rc=$?
expect failing "a failing function: its exit status, stdout and stderr come through" \
	bash -c "[ $rc = 3 ] && [ '$out' = 'partial output for x' ] && grep -q 'failing on purpose' $E2E_TMP/failing.err"

rc=0
efn prepare "$top/tests/fn/badwarm" >"$E2E_TMP/badwarm.out" 2>"$E2E_TMP/badwarm.err" || rc=$?
expect badwarm "prepare of a function whose warm-up fails: 125, its stderr shown, nothing stored" \
	bash -c "[ $rc = 125 ] && grep -q 'missing configuration' $E2E_TMP/badwarm.err && [ ! -e $store/badwarm/current ]"

rc=0
efn prepare "$E2E_TMP/nonexistent" >/dev/null 2>"$E2E_TMP/noent.err" || rc=$?
expect noent "prepare of a missing directory: 125 naming it" \
	bash -c "[ $rc = 125 ] && grep -q nonexistent $E2E_TMP/noent.err"

# serve: POST /fn/NAME over HTTP.
port=$((20000 + $$ % 20000))
# (not through efn: $! must be ember-fn itself, whose fds are counted below)
"$fn" serve --store "$store" --listen "127.0.0.1:$port" --max-vms 4 --queue 64 >"$E2E_TMP/serve.out" 2>"$E2E_TMP/serve.err" &
serve=$!
pids+=("$serve")
url=http://127.0.0.1:$port
for ((i = 0; i < 100; i++)); do curl -sf "$url/stats" >/dev/null 2>&1 && break; sleep 0.1; done
post() { # post NAME BODY OUT: prints the status code
	curl -s --max-time 120 -o "$3" -w '%{http_code}' -X POST --data-binary "$2" "$url/fn/$1" || echo 000
}
reqs=()
for i in $(seq 1 8); do
	post reverse "concurrent $i" "$E2E_TMP/c$i.body" >"$E2E_TMP/c$i.code" &
	reqs+=($!)
done
wait_reqs() { for p in "${reqs[@]}"; do wait "$p" || true; done; reqs=(); }
wait_reqs
ok=0
for i in $(seq 1 8); do
	[ "$(cat "$E2E_TMP/c$i.code")" = 200 ] && [ "$(cat "$E2E_TMP/c$i.body")" = "reversed:$(echo "concurrent $i" | rev)" ] && ok=$((ok + 1))
done
echo "    ($ok of 8 concurrent requests answered correctly)"
cp "$E2E_TMP/serve.err" "$E2E_TMP/serve8.err"
expect serve8 "serve: 8 concurrent requests all answered correctly" bash -c "[ $ok = 8 ]"
# idle again, each of the 4 workers holds a spare ember (GET /stats "spares")
spares() { curl -s --max-time 20 "$url/stats" | jq -r .spares; }
spares_are() { [ "$(spares)" = "$1" ]; }
wait_for 120 spares_are 4 || true
spares4=$(spares)
curl -s --max-time 120 -D "$E2E_TMP/pool.out" -o /dev/null -X POST --data-binary pool "$url/fn/reverse" || true
expect pool "serve restores into a spare ember spawned ahead (X-Ember-Mode: ..., pooled); /stats counts 4 spares" \
	bash -c "grep -qi '^X-Ember-Mode: File+prefetch, pooled' $E2E_TMP/pool.out && [ '$spares4' = 4 ]"
code=$(post nosuch x "$E2E_TMP/nf.body")
expect nf "serve: an unknown function is 404" bash -c "[ $code = 404 ] && grep -q nosuch $E2E_TMP/nf.body"
code=$(post failing y "$E2E_TMP/fail.body")
expect fail "serve: a failing function is 502 with its output" \
	bash -c "[ $code = 502 ] && grep -q 'partial output for y' $E2E_TMP/fail.body && grep -q 'failing on purpose' $E2E_TMP/fail.body"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/fn/reverse" || true)
expect get "serve: GET on a function is 405" bash -c "[ $code = 405 ]"
{ printf 'POST /fn/reverse HTTP/1.1\r\nContent-Length: 100\r\n\r\nhalf'; sleep 15; } |
	timeout 30 socat - "TCP:127.0.0.1:$port" >"$E2E_TMP/slow.out" 2>&1 || true
expect slow "serve: a request that never arrives whole is 408 after 10 s" grep -q '^HTTP/1.1 408' "$E2E_TMP/slow.out"

# Overload: one VM at a time and one waiting; a third request gets 503 at once.
efn prepare "$top/tests/fn/slow" >/dev/null 2>"$E2E_TMP/ps.err"
osock=$E2E_TMP/over.sock
"$fn" serve --store "$store" --listen "$osock" --max-vms 1 --queue 1 >/dev/null 2>"$E2E_TMP/over.err" &
over=$!
pids+=("$over")
for ((i = 0; i < 100; i++)); do [ -S "$osock" ] && break; sleep 0.1; done
ostat() { curl -s --max-time 20 --unix-socket "$osock" http://x/stats | jq -r ".$1"; }
opost() { curl -s --max-time 120 --unix-socket "$osock" -o "$E2E_TMP/o$1.body" -w '%{http_code}' -X POST --data-binary "$2" http://x/fn/slow >"$E2E_TMP/o$1.code" || true; }
opost 1 4 &
reqs+=($!)
for ((i = 0; i < 200; i++)); do [ "$(ostat running)" = 1 ] && break; sleep 0.05; done
opost 2 0 &
reqs+=($!)
for ((i = 0; i < 200; i++)); do [ "$(ostat queued)" = 1 ] && break; sleep 0.05; done
opost 3 0
wait_reqs
echo "    (overload: $(cat "$E2E_TMP/o1.code") $(cat "$E2E_TMP/o2.code") $(cat "$E2E_TMP/o3.code"))"
expect over "serve overloaded (1 VM, queue 1): the third request is 503, the others 200" \
	bash -c "[ \$(cat $E2E_TMP/o1.code) = 200 ] && [ \$(cat $E2E_TMP/o2.code) = 200 ] && [ \$(cat $E2E_TMP/o3.code) = 503 ] && grep -q 'slept 4' $E2E_TMP/o1.body"
kill -TERM "$over" 2>/dev/null || true

# 100 requests through serve (EMBER_FN_REQUESTS, a multiple of 50; perf/soak
# makes 1000): fds, processes, directories and memory come back.
nreq=${EMBER_FN_REQUESTS:-100}
fds() { ls "/proc/$serve/fd" | wc -l; }
avail() { awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo; }
embers() { pgrep -c -x ember || true; }
rundirs() { { ls -d /tmp/ember-fn.* 2>/dev/null || true; } | wc -l; }
fd0=$(fds) mem0=$(avail) em0=$(embers) dirs0=$(rundirs)
t0=$(date +%s%N)
: >"$E2E_TMP/leak.codes"
for ((b = 0; b < nreq; b += 50)); do # progress every 50
	seq $((b + 1)) $((b + 50)) | xargs -P 4 -I{} curl -s --max-time 120 -o /dev/null -w '%{http_code}\n' \
		-X POST --data-binary "leak {}" "$url/fn/reverse" >>"$E2E_TMP/leak.codes" || true
	echo "    ($((b + 50)) of $nreq requests sent, $((($(date +%s%N) - t0) / 1000000)) ms)"
done
# each worker spawns its spare ember again after its last request
back_to_start() { [ "$(embers)" = "$em0" ] && [ "$(rundirs)" = "$dirs0" ]; }
wait_for 20 back_to_start || true
fd1=$(fds) mem1=$(avail) em1=$(embers) dirs1=$(rundirs)
n200=$(grep -c '^200$' "$E2E_TMP/leak.codes" || true)
cf=$(curl -s "$url/stats" | jq -r .clone_failures)
echo "    ($nreq requests in $((($(date +%s%N) - t0) / 1000000)) ms: $n200 answered 200, $cf clones replaced; fds $fd0 -> $fd1," \
	"embers $em0 -> $em1, run dirs $dirs0 -> $dirs1, MemAvailable $mem0 -> $mem1 MiB)"
curl -s "$url/stats" >"$E2E_TMP/leak.out" || true
{
	{ grep -v '^200$' "$E2E_TMP/leak.codes" || true; } | sort | uniq -c | sed 's/^/other answers: /'
	tail -5 "$E2E_TMP/serve.err" || true
	[ "$fd1" = "$fd0" ] || { ls -l "/proc/$serve/fd"; dump_stuck "$serve"; }
	for p in $(pgrep -x ember || true); do echo "ember $p: $(ps -o stat=,wchan= -p "$p")"; done
} >"$E2E_TMP/leak.err" 2>&1
expect leak "after $nreq requests: all answered; serve's fds, ember processes, run dirs and free memory are back" \
	bash -c "[ $n200 = $nreq ] && [ $fd1 = $fd0 ] && [ $em1 = $em0 ] && [ $dirs1 = $dirs0 ] && [ $mem1 -gt \$(($mem0 - 64)) ]"
kill -TERM "$serve" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do kill -0 "$serve" 2>/dev/null || break; sleep 0.1; done
rc=0
wait "$serve" || rc=$?
expect serve "serve stops cleanly on SIGTERM, its spare embers and run dirs gone" \
	bash -c "[ $rc = 0 ] && grep -q stopping $E2E_TMP/serve.err && [ \$(pgrep -c -x ember || true) = 0 ] && [ \$(ls -d /tmp/ember-fn.* 2>/dev/null | wc -l) = 0 ]"

e2e_summary
