#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: Firecracker's API as its clients send it (tests/api/conformance.json,
# each row with its source) against the real ember, seccomp on: the pre-boot
# rows on a fresh process; InstanceStart; the post-boot rows, every request
# Firecracker accepts after boot among them (the rate limiters a drive and
# an interface did not boot with, PATCHes, pause, Full and Diff snapshots);
# then a new process loads that snapshot (the deprecated mem_file_path form,
# every optional field) and the same rows run again. After each row ember
# must still be alive; at the end of each phase the guest must still answer.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TABLE="$top/tests/api/conformance.json"
invoke=$(dirname "$EMBER")/ember-invoke
ns=ember-conf-$$
if ! ip netns add "$ns" 2>/dev/null; then
	echo "SKIP: cannot create a network namespace (needs root and iproute2): API conformance not run"
	exit 0
fi
pids=()
rc=0
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; ip netns del "$ns" 2>/dev/null; rm -rf "$E2E_TMP"' EXIT
for t in tap0 tap1 tap2; do ip -n "$ns" tuntap add dev "$t" mode tap; done

truncate -s 1M "$E2E_TMP/scratch1.img"
truncate -s 2M "$E2E_TMP/scratch2.img"
mkdir -p "$E2E_TMP/snap"
# Placeholders of the table. BOOT_ARGS lands inside JSON strings: its quotes
# come escaped. The guest reports the MTU virtio-net offered, then idles
# with its agent up.
declare -A vars=(
	[@KERNEL@]="$GUEST/vmlinux" [@INITRD@]="$GUEST/initramfs.cpio" [@ROOTFS@]="$GUEST/rootfs.ext4"
	[@SCRATCH@]="$E2E_TMP/scratch1.img" [@SCRATCH2@]="$E2E_TMP/scratch2.img"
	[@VSOCK@]="$E2E_TMP/v.sock" [@VSOCK2@]="$E2E_TMP/v2.sock" [@SERIAL@]="$E2E_TMP/serial.out"
	[@METRICS@]="$E2E_TMP/metrics.ndjson" [@SNAP@]="$E2E_TMP/snap"
	[@TAP0@]=tap0 [@TAP1@]=tap1 [@TAP2@]=tap2
	[@BOOT_ARGS@]='console=ttyS0 reboot=k panic=1 quiet ember.agent=1 ember.cmd=\"echo mtu=$(cat /sys/class/net/eth0/mtu); while :; do sleep 60; done\"'
)
fill() { # fill TEXT: the placeholders replaced
	local s=$1 k
	for k in "${!vars[@]}"; do s=${s//$k/${vars[$k]}}; done
	s=${s//@PHASE@/$phase}
	printf '%s' "$s"
}

# request SOCK METHOD PATH [BODY]: sets $code, $body and $deprecated
request() {
	local args=(-s --max-time 60 --unix-socket "$1" -X "$2" -o "$E2E_TMP/body" -D "$E2E_TMP/headers" -w '%{http_code}')
	[ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
	code=$(curl "${args[@]}" "http://localhost$3") || code=000
	body=$(cat "$E2E_TMP/body" 2>/dev/null || true)
	deprecated=false
	grep -qi '^Deprecation: true' "$E2E_TMP/headers" 2>/dev/null && deprecated=true
	return 0
}

# The rows of a phase as shell assignments, one line each: jq runs once per
# phase, not per field (user space is slow in the test host).
rows_of() {
	jq -r --arg p "$1" '.rows[] | select(.when | index($p)) |
		"method=\(.method | @sh) path=\(.path | @sh) has_body=\(has("body")) body=\(.body // "" | @sh)" +
		" status=\(.status) fault=\(.fault // "" | @sh) contains=\(.fault_contains // "" | @sh)" +
		" json=\(if has("json") then (.json | tojson) else "" end | @sh)" +
		" keys=\(if has("json_keys") then (.json_keys | sort | tojson) else "" end | @sh)" +
		" has=\(if has("json_has") then (.json_has | tojson) else "" end | @sh)" +
		" dep=\(.deprecation // "" | tostring | @sh) source=\(.source | @sh)"' "$TABLE"
}

# verdict: empty when the last answer is the row's (the variables rows_of
# set), else why not
verdict() {
	local got want
	[ "$code" = "$status" ] || { echo "status $code, want $status ($body)"; return; }
	if [ -n "$fault$contains" ]; then
		got=$(jq -r '.fault_message // empty' <<<"$body")
		want=$(fill "$fault")
		[ -z "$fault" ] || [ "$got" = "$want" ] || { echo "fault \"$got\", want \"$want\""; return; }
		want=$(fill "$contains")
		[ -z "$contains" ] || [[ "$got" == *"$want"* ]] || { echo "fault \"$got\" lacks \"$want\""; return; }
	fi
	if [ -n "$json$keys$has" ]; then
		got=$(jq -n -c --argjson g "$body" --arg want "$(fill "$json")" --arg keys "$keys" \
			--arg has "$has" '[($want == "" or ($g == ($want | fromjson))),
			($keys == "" or (($g | keys) == ($keys | fromjson))),
			($has == "" or (($has | fromjson) | to_entries | all(.value == $g[.key])))] | all' \
			2>/dev/null || echo false)
		[ "$got" = true ] || { echo "body $body, want ${json:-keys $keys, $has}"; return; }
	fi
	[ -z "$dep" ] || [ "$dep" = "$deprecated" ] || echo "Deprecation header: $deprecated, want $dep"
}

# run_phase SOCK PID PHASE: every row for the phase, in order
run_phase() {
	local sock=$1 pid=$2 n=0 bad=0 line why
	phase=$3
	while IFS= read -r line; do
		eval "$line"
		if [ "$has_body" = true ]; then
			request "$sock" "$method" "$(fill "$path")" "$(fill "$body")"
		else
			request "$sock" "$method" "$(fill "$path")"
		fi
		why=$(verdict)
		n=$((n + 1))
		kill -0 "$pid" 2>/dev/null || why="ember died (its log: $E2E_TMP) ${why}"
		if [ -n "$why" ]; then
			bad=$((bad + 1))
			echo "  DIFFERS: $method $path $body"
			echo "    $why"
			echo "    (source: $source)"
		else
			echo "  as Firecracker: $method $path $code"
		fi
		kill -0 "$pid" 2>/dev/null || break
	done < <(rows_of "$phase")
	rows_run=$n
	rows_bad=$bad
}

start_ember() { # start_ember NAME: in the namespace with the TAPs; pid in $pid
	rm -f "$E2E_TMP/$1.sock"
	ip netns exec "$ns" "$EMBER" --api-sock "$E2E_TMP/$1.sock" --id "$1" \
		>"$E2E_TMP/$1.out" 2>"$E2E_TMP/$1.err" </dev/null &
	pid=$!
	pids+=("$pid")
	for ((i = 0; i < 100; i++)); do [ -S "$E2E_TMP/$1.sock" ] && break; sleep 0.1; done
}
answers() { # answers VSOCK: the guest's agent echoes
	[ "$(echo conformance | timeout 120 "$invoke" --uds "$1" --fn echo --wait 90000 2>>"$E2E_TMP/invoke.err")" = conformance ]
}

# 1. A fresh process: the pre-boot rows.
start_ember a
a=$pid
run_phase "$E2E_TMP/a.sock" "$a" pre
expect a "pre-boot: $((rows_run - rows_bad)) of $rows_run rows as Firecracker answers" test "$rows_bad" = 0

# 2. InstanceStart, then every post-boot row.
request "$E2E_TMP/a.sock" PUT /actions '{"action_type": "InstanceStart"}'
start_code=$code
answers "${vars[@VSOCK@]}" && up=yes || up=no
expect a "InstanceStart with everything configured: 204, and the guest's agent answers" \
	bash -c "[ $start_code = 204 ] && [ $up = yes ]"
expect a "the guest's eth0 took the offered MTU (VIRTIO_NET_F_MTU 1400); its console went to serial_out_path" \
	grep -q '^mtu=1400' "${vars[@SERIAL@]}"
run_phase "$E2E_TMP/a.sock" "$a" post
expect a "after boot (seccomp on): $((rows_run - rows_bad)) of $rows_run rows as Firecracker answers, ember alive" \
	test "$rows_bad" = 0
answers "${vars[@VSOCK@]}" && up=yes || up=no
request "$E2E_TMP/a.sock" GET /
expect a "after every post-boot row the guest still answers and so does the API" \
	bash -c "[ $up = yes ] && [ $code = 200 ] && kill -0 $a"
request "$E2E_TMP/a.sock" PUT /actions '{"action_type": "FlushMetrics"}'
expect a "the metrics lines count the deprecated calls, and no line has a seccomp fault" \
	bash -c "jq -s -e 'map(.deprecated_api.deprecated_http_api_calls // 0) | add > 0' ${vars[@METRICS@]} >/dev/null &&
		jq -s -e 'all(.[]; (.seccomp.num_faults // 0) == 0)' ${vars[@METRICS@]} >/dev/null"
kill -TERM "$a"
wait "$a" 2>/dev/null || true

# 3. A new process loads the snapshot the post-boot rows took, in the
# deprecated form (mem_file_path, enable_diff_snapshots) with every other
# optional field; then the same rows again.
start_ember b
b=$pid
phase=restored
request "$E2E_TMP/b.sock" PUT /metrics "{\"metrics_path\": \"$E2E_TMP/b-metrics.ndjson\"}"
metrics_code=$code
request "$E2E_TMP/b.sock" PUT /snapshot/load "$(fill '{"snapshot_path": "@SNAP@/post-full.state", "mem_file_path": "@SNAP@/post-full.mem", "enable_diff_snapshots": true, "resume_vm": true, "network_overrides": [{"iface_id": "1", "host_dev_name": "@TAP0@"}, {"iface_id": "2", "host_dev_name": "@TAP1@"}], "vsock_override": {"uds_path": "@VSOCK2@"}, "clock_realtime": true, "huge_pages": "None"}')"
load_code=$code load_dep=$deprecated
answers "${vars[@VSOCK2@]}" && up=yes || up=no
expect b "PUT /metrics then /snapshot/load (deprecated form: Deprecation header), and the clone answers" \
	bash -c "[ $metrics_code = 204 ] && [ $load_code = 204 ] && [ $load_dep = true ] && [ $up = yes ]"
run_phase "$E2E_TMP/b.sock" "$b" restored
expect b "after the load (seccomp on): $((rows_run - rows_bad)) of $rows_run rows as Firecracker answers, ember alive" \
	test "$rows_bad" = 0
answers "${vars[@VSOCK2@]}" && up=yes || up=no
expect b "after every row the restored guest still answers" bash -c "[ $up = yes ] && kill -0 $b"
request "$E2E_TMP/b.sock" PUT /actions '{"action_type": "SendCtrlAltDel"}'
cad_code=$code
wait_exit "$b" 60
expect b "SendCtrlAltDel, the last request Firecracker accepts: the guest reboots and ember exits 0" \
	bash -c "[ $cad_code = 204 ] && [ $rc = 0 ]"

# 4. A load that fails after its checks ends the process, as Firecracker's.
start_ember c
c=$pid
request "$E2E_TMP/c.sock" PUT /snapshot/load '{"snapshot_path": "/nonexistent/s", "mem_backend": {"backend_type": "File", "backend_path": "/nonexistent/m"}}'
wait_exit "$c" 30
expect c "a failed load: 400 with Firecracker's message, then ember exits 1" \
	bash -c "[ $code = 400 ] && [ $rc = 1 ] && jq -en 'input | .fault_message == \"Load snapshot error: Failed to restore from snapshot: Failed to get snapshot state from file: Failed to open snapshot file: No such file or directory (os error 2)\"' <<<'$body' >/dev/null"

e2e_summary
