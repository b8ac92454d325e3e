# SPDX-License-Identifier: Apache-2.0
# Helpers for end-to-end tests: boot the real guest under build/ember.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EMBER="${EMBER:-$top/build/ember}"
GUEST="$top/build/guest"
# Scratch space that is writable on the host and inside the test host.
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-e2e.XXXXXX")
trap 'rm -rf "$E2E_TMP"' EXIT
E2E_TIMEOUT=${E2E_TIMEOUT:-60}
fails=0
passes=0

# Write a config file: vm_config NAME KERNEL INITRD VCPUS MEM BOOT_ARGS
vm_config() {
	local name=$1 kernel=$2 initrd=$3 vcpus=$4 mem=$5 args=$6
	local initrd_json=""
	[ -n "$initrd" ] && initrd_json=", \"initrd_path\": \"$initrd\""
	cat >"$E2E_TMP/$name.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$kernel", "boot_args": "$args"$initrd_json },
  "machine-config": { "vcpu_count": $vcpus, "mem_size_mib": $mem }
}
JSON
	echo "$E2E_TMP/$name.json"
}

# Boot args with a command for ember-init; quotes escaped for JSON.
guest_args() {
	echo "console=ttyS0 reboot=k panic=1 quiet ember.cmd=\\\"$1\\\""
}

# Where a process is stuck: its threads' states, wait channels and stacks.
dump_stuck() {
	local pid=$1 t
	echo "--- ember (pid $pid) is still running; its threads:"
	for t in /proc/"$pid"/task/*; do
		[ -d "$t" ] || continue
		echo "thread ${t##*/}: $(cut -d' ' -f3 "$t/stat" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/    /' "$t/stack" 2>/dev/null
	done
}

# gone_within SECONDS PID: 0 once PID has ended, 1 if it still runs then
# (by the clock: a loaded host makes each try slower, not the wait longer).
gone_within() {
	local end=$((SECONDS + $1))
	while kill -0 "$2" 2>/dev/null; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
	return 0
}

# with_deadline SECONDS CMD...: run CMD (stdio as given) and return its status,
# or 124 after SECONDS. Never blocks on a process the kernel cannot kill (a
# stuck nested KVM): that is reported and the caller goes on.
with_deadline() {
	local limit=$1 pid
	shift
	"$@" &
	pid=$!
	if ! gone_within "$limit" "$pid"; then
		dump_stuck "$pid" >&2
		kill -TERM "$pid" 2>/dev/null
		gone_within 5 "$pid" || kill -KILL "$pid" 2>/dev/null
		if ! gone_within 10 "$pid"; then
			echo "--- ember could not be killed: it is stuck in the kernel (KVM)" >&2
			dump_stuck "$pid" >&2
			return 124
		fi
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# wait_exit PID SECONDS: wait for PID (a child) to end by itself within
# SECONDS, else show its threads and kill it; its exit status in $rc.
wait_exit() {
	local pid=$1 limit=$2
	set +e
	gone_within "$limit" "$pid" || { dump_stuck "$pid" >&2; kill -KILL "$pid"; }
	wait "$pid"
	rc=$?
	set -e
}

# run_ember NAME CONFIG [ARGS...]: output in $E2E_TMP/NAME.out/.err, status in $rc
run_ember() {
	local name=$1 cfg=$2
	shift 2
	set +e
	with_deadline "$E2E_TIMEOUT" "$EMBER" --config-file "$cfg" --no-api "$@" \
		>"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" </dev/null
	rc=$?
	set -e
}

# The ember-fn scripts: $fn, a $store, and $pids killed when the script ends.
fn_e2e_setup() {
	fn=$(dirname "$EMBER")/ember-fn
	[ -x "$fn" ] || { echo "FAIL: $fn is not built (make all)"; exit 1; }
	store=$E2E_TMP/store
	pids=()
	trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$E2E_TMP"' EXIT
}

# ticking CMD...: CMD, with a line a minute on the script's stdout while it
# runs, however CMD's own output is redirected (an image's prepare copies,
# unpacks and formats its root: minutes in the test host, whose watchdog
# wants output)
exec 9>&1
ticking() {
	local p s=0
	"$@" &
	p=$!
	while kill -0 "$p" 2>/dev/null; do
		sleep 1
		s=$((s + 1))
		((s % 60)) || echo "    (still running: $s s)" >&9
	done
	wait "$p"
}

# wait_http URL PID SECONDS: until URL answers, or PID is gone (1), or
# SECONDS have passed (1).
wait_http() {
	local url=$1 pid=$2 end=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$end" ]; do
		curl -sf --max-time 5 "$url" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# api METHOD PATH [BODY]: a request on the API socket $SOCK; sets $code and $body
api() {
	local args=(-s --max-time 20 --unix-socket "$SOCK" -X "$1" -o "$E2E_TMP/body" -w '%{http_code}')
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' -d "$3")
	code=$(curl "${args[@]}" "http://localhost$2") || code=000
	body=$(cat "$E2E_TMP/body" 2>/dev/null || true)
}

# check DESCRIPTION CONDITION...: the condition, with the last answer (and
# $ERR, ember's stderr) on failure
check() {
	local what=$1
	shift
	if "$@"; then
		pass "$what"
	else
		echo "$code $body" >"$E2E_TMP/last"
		fail "$what" "$E2E_TMP/last" "$ERR"
	fi
}

# A wait on the guest's progress bounds a hang, never its speed: a loaded
# test host can run a guest many times slower, so such waits take 240 s
# (under the test host's 300 s silence watchdog) and return as soon as the
# condition holds; what must happen by some point of the guest's own time is
# counted in its ticks (api.sh's new drive capacity).
wait_for() { # wait_for SECONDS CONDITION...: by the clock, however slow each try
	local end=$((SECONDS + $1))
	shift
	while true; do
		"$@" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# start_ember NAME [FLAGS...]: ember (behind $EMBER_WRAP, e.g. "ip netns
# exec NS", when set) with its API socket $SOCK, console $OUT and log $ERR
# in $E2E_TMP; its pid in $pid, and added to $pids for an EXIT trap.
start_ember() {
	local name=$1
	shift
	SOCK="$E2E_TMP/$name.sock"
	OUT="$E2E_TMP/$name.out"
	ERR="$E2E_TMP/$name.err"
	set +e
	${EMBER_WRAP:-} "$EMBER" --api-sock "$SOCK" --id "e2e-$name" "$@" >"$OUT" 2>"$ERR" </dev/null &
	pid=$!
	set -e
	pids="${pids:-} $pid"
	wait_for 10 test -S "$SOCK" || true
}

stop_ember() {
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# snapshot_to NAME: pause the VM and snapshot it to $E2E_TMP/NAME.{state,mem}.
snapshot_to() {
	api PATCH /vm '{"state": "Paused"}'
	api PUT /snapshot/create "{\"snapshot_path\": \"$E2E_TMP/$1.state\", \"mem_file_path\": \"$E2E_TMP/$1.mem\"}"
}

# load_from NAME: PUT /snapshot/load of NAME's snapshot (File), resumed.
load_from() {
	api PUT /snapshot/load "{\"snapshot_path\": \"$E2E_TMP/$1.state\", \"mem_backend\": {\"backend_path\": \"$E2E_TMP/$1.mem\", \"backend_type\": \"File\"}, \"resume_vm\": true}"
}

pass() {
	passes=$((passes + 1))
	echo "PASS: $1"
}

fail() {
	fails=$((fails + 1))
	echo "FAIL: $1"
	shift
	for f in "$@"; do
		[ -f "$f" ] && sed 's/^/    | /' "$f" | tail -25
	done
	return 0
}

# expect NAME DESCRIPTION CONDITION...: pass when the condition command succeeds
expect() {
	local name=$1 what=$2
	shift 2
	if "$@"; then
		pass "$what"
	else
		fail "$what (rc=$rc)" "$E2E_TMP/$name.out" "$E2E_TMP/$name.err"
	fi
}

e2e_summary() {
	echo "$passes passed, $fails failed"
	[ "$fails" = 0 ]
}
