#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: a booted guest counting in memory (/tmp/count, a tmpfs) with
# the agent on vsock is paused and snapshotted through the API; new ember
# processes load the snapshot (File backend) and the counter goes on from
# where it was, the agent answering on each clone's own vsock socket; bad
# state and memory files are refused with a clear error: the process ends,
# as Firecracker's does, or (--ember-extensions) stays for a corrected load.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

invoke=$(dirname "$EMBER")/ember-invoke
[ -x "$invoke" ] || { echo "FAIL: $invoke is not built (make all)"; exit 1; }
pids=()
rc=0
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$E2E_TMP"' EXIT

# api SOCK METHOD PATH [BODY]: sets $code and $body
api() {
	local args=(-s --max-time 30 --unix-socket "$1" -X "$2" -o "$E2E_TMP/body" -w '%{http_code}')
	[ $# -ge 4 ] && args+=(-d "$4")
	code=$(curl "${args[@]}" "http://localhost$3") || code=000
	body=$(cat "$E2E_TMP/body" 2>/dev/null || true)
}
count() { timeout 60 "$invoke" --uds "$1" --fn count --wait "${2:-20000}" </dev/null 2>>"$E2E_TMP/invoke.err"; }
start_ember() { # start_ember NAME [FLAGS]: an API-only ember; its pid in $pid
	local name=$1
	shift
	rm -f "$E2E_TMP/$name.sock"
	"$EMBER" --api-sock "$E2E_TMP/$name.sock" --id "$name" "$@" >"$E2E_TMP/$name.out" \
		2>"$E2E_TMP/$name.err" </dev/null &
	pid=$!
	pids+=("$pid")
	for ((i = 0; i < 100; i++)); do [ -S "$E2E_TMP/$name.sock" ] && break; sleep 0.1; done
}
stop_ember() {
	kill -TERM "$1" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
load_body() { # load_body STATE MEM VSOCK_PATH
	echo "{\"snapshot_path\": \"$1\", \"mem_backend\": {\"backend_path\": \"$2\", \"backend_type\": \"File\"}, \"resume_vm\": true, \"vsock_override\": {\"uds_path\": \"$3\"}}"
}

# Each value is written beside and renamed over, so a read never sees the
# file truncated and still empty (a slow Uffd restore widened that window).
cmd='(i=0; while :; do i=$((i+1)); echo $i >/tmp/count.n; mv /tmp/count.n /tmp/count; sleep 0.05; done) &'
cat >"$E2E_TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUEST/vmlinux", "initrd_path": "$GUEST/initramfs.cpio",
                   "boot_args": "console=ttyS0 reboot=k panic=1 quiet ember.agent=1 ember.cmd=\\"$cmd\\"" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 },
  "vsock": { "guest_cid": 3, "uds_path": "$E2E_TMP/a.vsock" }
}
JSON
rm -f "$E2E_TMP/a.sock"
"$EMBER" --api-sock "$E2E_TMP/a.sock" --id a --config-file "$E2E_TMP/vm.json" \
	>"$E2E_TMP/a.out" 2>"$E2E_TMP/a.err" </dev/null &
a=$!
pids+=("$a")
c1=$(count "$E2E_TMP/a.vsock" 90000 || echo none)
sleep 0.5
c2=$(count "$E2E_TMP/a.vsock" || echo none)
echo "    (the booted guest counts: $c1, then $c2)"
expect a "the booted guest counts and its agent answers" bash -c "[ '$c1' != none ] && [ '$c2' -gt '$c1' ]"

api "$E2E_TMP/a.sock" PUT /snapshot/create "{\"snapshot_path\": \"$E2E_TMP/s.state\", \"mem_file_path\": \"$E2E_TMP/s.mem\"}"
expect a "snapshot/create on a running VM is refused (pause first)" \
	bash -c "[ $code = 400 ] && grep -q 'must be paused' <<<'$body'"
api "$E2E_TMP/a.sock" PATCH /vm '{"state": "Paused"}'
api "$E2E_TMP/a.sock" PUT /snapshot/create "{\"snapshot_path\": \"$E2E_TMP/d.state\", \"mem_file_path\": \"$E2E_TMP/d.mem\", \"snapshot_type\": \"Diff\"}"
expect a "a Diff snapshot without track_dirty_pages takes the resident pages (mincore), as Firecracker 1.13+" \
	bash -c "[ $code = 204 ] && [ -s $E2E_TMP/d.state ] && [ \$(du -k $E2E_TMP/d.mem | cut -f1) -gt 0 ]"
api "$E2E_TMP/a.sock" PUT /snapshot/create "{\"snapshot_path\": \"$E2E_TMP/s.state\", \"mem_file_path\": \"$E2E_TMP/s.mem\", \"snapshot_type\": \"Full\"}"
expect a "PUT /snapshot/create on the paused VM: 204, a state file and a memory file" \
	bash -c "[ $code = 204 ] && [ -s $E2E_TMP/s.state ] && [ \$(stat -c %s $E2E_TMP/s.mem) = $((128 << 20)) ]"
echo "    (memory file: $(du -k "$E2E_TMP/s.mem" | cut -f1) KiB on disk of 131072: zero pages are holes)"
stop_ember "$a"

start_ember b --ember-extensions
api "$E2E_TMP/b.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/s.state" "$E2E_TMP/s.mem" "$E2E_TMP/b.vsock")"
expect b "PUT /snapshot/load in a new process: 204" bash -c "[ $code = 204 ]"
c3=$(count "$E2E_TMP/b.vsock" || echo none)
sleep 0.5
c4=$(count "$E2E_TMP/b.vsock" || echo none)
echo "    (the restored guest counts: $c3, then $c4)"
expect b "the restored guest's counter goes on from where it was; the agent answers" \
	bash -c "[ '$c3' != none ] && [ '$c3' -ge '$c2' ] && [ '$c3' -lt \$(( $c2 + 1000 )) ] && [ '$c4' -gt '$c3' ]"
api "$E2E_TMP/b.sock" GET /
expect b "GET / after the load: Running, with the load's latency and its steps (--ember-extensions)" \
	bash -c "grep -q '\"state\":\"Running\"' <<<'$body' && jq -en 'input | .latencies_us as \$l | \$l.load_snapshot > 0
		and ([\$l.load_read_state, \$l.load_create_vm, \$l.load_memory, \$l.load_devices, \$l.load_vcpus,
		      \$l.load_restore_state] | all(type == \"number\" and . >= 0) and add > 0 and add <= \$l.load_snapshot)' <<<'$body' >/dev/null"
api "$E2E_TMP/b.sock" PUT /actions '{"action_type": "InstanceStart"}'
expect b "InstanceStart after a load is refused" bash -c "[ $code = 400 ]"
# The ACPI tables were in the memory file: the restored guest's poweroff
# still reaches the FADT's sleep register and ends ember with 0.
timeout 60 "$invoke" --uds "$E2E_TMP/b.vsock" --fn poweroff --wait 20000 </dev/null \
	>/dev/null 2>&1 || true
wait_exit "$pid" 30
expect b "the restored guest powers off through ACPI (the tables came with its memory): ember exits 0" \
	bash -c "[ $rc = 0 ] && grep -q 'guest powered off (ACPI S5)' $E2E_TMP/b.err"

# The Uffd backend: ember-uffd serves every page from the memory file.
uffd_bin=$(dirname "$EMBER")/ember-uffd
"$uffd_bin" --socket "$E2E_TMP/uffd.sock" --mem-file "$E2E_TMP/s.mem" 2>"$E2E_TMP/uffd.err" &
pids+=($!)
for ((i = 0; i < 50; i++)); do [ -S "$E2E_TMP/uffd.sock" ] && break; sleep 0.1; done
start_ember u
api "$E2E_TMP/u.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/s.state" "$E2E_TMP/uffd.sock" "$E2E_TMP/u.vsock" | sed 's/"File"/"Uffd"/')"
load_code=$code
c6=$(count "$E2E_TMP/u.vsock" 50000 || echo none)
echo "    (restored through ember-uffd, the guest counts: $c6)"
cp "$E2E_TMP/uffd.err" "$E2E_TMP/u.out"
tail -3 "$E2E_TMP/invoke.err" >>"$E2E_TMP/u.out" 2>/dev/null || true
expect u "the Uffd backend: ember-uffd serves the pages, the counter goes on, the agent answers" \
	bash -c "[ $load_code = 204 ] && [ '$c6' != none ] && [ '$c6' -ge '$c2' ] && grep -q 'serving VM' $E2E_TMP/uffd.err"
stop_ember "$pid"
sleep 0.5
expect u "ember-uffd sees the VM go" grep -q 'is gone' "$E2E_TMP/uffd.err"
start_ember nohandler
api "$E2E_TMP/nohandler.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/s.state" "$E2E_TMP/none.sock" "$E2E_TMP/n.vsock" | sed 's/"File"/"Uffd"/')"
nohandler_code=$code nohandler_body=$body
wait_exit "$pid" 30
expect nohandler "the Uffd backend with no handler listening: 400 naming it, then ember exits 1 as Firecracker does" \
	bash -c "[ $nohandler_code = 400 ] && grep -q 'cannot connect to the page-fault handler' <<<'$nohandler_body' && [ $rc = 1 ]"

# resume_vm false: the clone waits, paused, until PATCH /vm Resumed.
start_ember p
api "$E2E_TMP/p.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/s.state" "$E2E_TMP/s.mem" "$E2E_TMP/p.vsock" | sed 's/"resume_vm": true/"resume_vm": false/')"
load_code=$code
api "$E2E_TMP/p.sock" GET /
state1=$body
api "$E2E_TMP/p.sock" PATCH /vm '{"state": "Resumed"}'
c5=$(count "$E2E_TMP/p.vsock" || echo none)
expect p "resume_vm false: loaded Paused, then PATCH Resumed and the agent answers" \
	bash -c "[ $load_code = 204 ] && grep -q '\"state\":\"Paused\"' <<<'$state1' && [ $code = 204 ] && [ '$c5' != none ]"
stop_ember "$pid"

# Four clones of one snapshot at once, each on its own vsock socket.
clones=()
for n in 1 2 3 4; do
	start_ember "c$n"
	clones+=("$pid")
	api "$E2E_TMP/c$n.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/s.state" "$E2E_TMP/s.mem" "$E2E_TMP/c$n.vsock")" &
done
sleep 1
answers=""
for n in 1 2 3 4; do answers="$answers $(count "$E2E_TMP/c$n.vsock" 60000 || echo none)"; done
echo "    (four clones answer:$answers)"
cat "$E2E_TMP"/c[1-4].err >"$E2E_TMP/clones.err" 2>/dev/null || true
cp "$E2E_TMP/invoke.err" "$E2E_TMP/clones.out" 2>/dev/null || true
expect clones "four clones restored from one snapshot at once all answer" \
	bash -c "! grep -q none <<<'$answers' && [ \$(wc -w <<<'$answers') = 4 ]"
for p in "${clones[@]}"; do stop_ember "$p"; done

# A Diff: with track_dirty_pages, a full snapshot, the guest runs on, then a
# diff; ember-snapshot-editor rebases the diff onto the full snapshot's
# memory, which restores with the diff's state.
editor=$(dirname "$EMBER")/ember-snapshot-editor
sed 's/"mem_size_mib": 128 }/"mem_size_mib": 128, "track_dirty_pages": true }/; s|a\.vsock|d.vsock|' \
	"$E2E_TMP/vm.json" >"$E2E_TMP/vmd.json"
rm -f "$E2E_TMP/d.sock"
"$EMBER" --api-sock "$E2E_TMP/d.sock" --id d --config-file "$E2E_TMP/vmd.json" \
	>"$E2E_TMP/d.out" 2>"$E2E_TMP/d.err" </dev/null &
pid=$!
pids+=("$pid")
count "$E2E_TMP/d.vsock" 90000 >/dev/null || true
snap() { # snap NAME TYPE
	api "$E2E_TMP/d.sock" PATCH /vm '{"state": "Paused"}'
	api "$E2E_TMP/d.sock" PUT /snapshot/create "{\"snapshot_path\": \"$E2E_TMP/$1.state\", \"mem_file_path\": \"$E2E_TMP/$1.mem\", \"snapshot_type\": \"$2\"}"
	snap_code=$code
	api "$E2E_TMP/d.sock" PATCH /vm '{"state": "Resumed"}'
}
snap base Full
base_code=$snap_code
sleep 1
c8=$(count "$E2E_TMP/d.vsock" || echo none)
snap diff Diff
stop_ember "$pid"
rebase_rc=0
"$editor" edit-memory rebase --memory-path "$E2E_TMP/base.mem" --diff-path "$E2E_TMP/diff.mem" \
	2>"$E2E_TMP/rebase.err" || rebase_rc=$?
echo "    (diff memory file: $(du -k "$E2E_TMP/diff.mem" | cut -f1) KiB on disk; base: $(du -k "$E2E_TMP/base.mem" | cut -f1) KiB)"
start_ember r
api "$E2E_TMP/r.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/diff.state" "$E2E_TMP/base.mem" "$E2E_TMP/r.vsock")"
c9=$(count "$E2E_TMP/r.vsock" || echo none)
echo "    (counted $c8 before the diff, $c9 after restoring base + diff)"
expect r "a Diff rebased onto its Full base (ember-snapshot-editor) restores; the count goes on" \
	bash -c "[ $base_code = 204 ] && [ $snap_code = 204 ] && [ $rebase_rc = 0 ] && [ $code = 204 ] &&
		[ '$c9' != none ] && [ '$c9' -ge '$c8' ] &&
		[ \$(du -k $E2E_TMP/diff.mem | cut -f1) -lt \$(du -k $E2E_TMP/base.mem | cut -f1) ]"
stop_ember "$pid"

# Bad files: each refused with its own message, ember stays up.
cp "$E2E_TMP/s.state" "$E2E_TMP/trunc.state" && truncate -s -100 "$E2E_TMP/trunc.state"
cp "$E2E_TMP/s.state" "$E2E_TMP/flip.state" && printf '\x55' | dd of="$E2E_TMP/flip.state" bs=1 seek=200 conv=notrunc 2>/dev/null
cp "$E2E_TMP/s.state" "$E2E_TMP/ver.state" && printf '\x09' | dd of="$E2E_TMP/ver.state" bs=1 seek=8 conv=notrunc 2>/dev/null
head -c $((64 << 20)) "$E2E_TMP/s.mem" >"$E2E_TMP/short.mem"
start_ember bad --ember-extensions
for case in "trunc.state s.mem CRC" "flip.state s.mem CRC mismatch" "ver.state s.mem format version 9." \
	"nonexistent.state s.mem Failed to open snapshot file: No such file or directory" \
	"s.state short.mem the memory file holds"; do
	set -- $case
	state=$1 mem=$2
	shift 2
	api "$E2E_TMP/bad.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/$state" "$E2E_TMP/$mem" "$E2E_TMP/bad.vsock")"
	expect bad "$state with $mem: 400 naming the problem ($*)" \
		bash -c "[ $code = 400 ] && grep -q '$*' <<<'$body'"
done
# ember's working set (--ember-extensions): a file that is not one is refused.
printf 'not a working set' >"$E2E_TMP/bad.ws"
for ws in "$E2E_TMP/none.ws:cannot open the working set" "$E2E_TMP/bad.ws:bad.ws"; do
	api "$E2E_TMP/bad.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/s.state" "$E2E_TMP/s.mem" "$E2E_TMP/bad.vsock" |
		jq -c --arg w "${ws%%:*}" '. + {working_set_path: $w}')"
	expect bad "working_set_path ${ws%%:*}: 400 naming the problem (${ws##*:})" \
		bash -c "[ $code = 400 ] && grep -q '${ws##*:}' <<<'$body'"
done
api "$E2E_TMP/bad.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/s.state" "$E2E_TMP/uffd.sock" "$E2E_TMP/bad.vsock" |
	sed 's/"File"/"Uffd"/' | jq -c --arg w "$E2E_TMP/bad.ws" '. + {working_set_path: $w}')"
expect bad "working_set_path with the Uffd backend: 400 (the handler serves the pages)" \
	bash -c "[ $code = 400 ] && grep -q 'takes the File backend' <<<'$body'"
# A failed load leaves the process as it was: with --ember-extensions, the
# corrected load works.
api "$E2E_TMP/bad.sock" PUT /snapshot/load "$(load_body "$E2E_TMP/s.state" "$E2E_TMP/s.mem" "$E2E_TMP/bad.vsock")"
c10=$(count "$E2E_TMP/bad.vsock" || echo none)
expect bad "after the failed loads, a good one in the same process works" \
	bash -c "[ $code = 204 ] && [ '$c10' != none ]"
stop_ember "$pid"

e2e_summary
