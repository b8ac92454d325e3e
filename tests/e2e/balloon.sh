#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: the balloon as a Firecracker client drives it over the API.
# The guest fills its free memory and frees it; PATCH /balloon inflates the
# balloon and ember's RSS falls by about as much; statistics come from the
# guest; Firecracker's refusals; deflate; and a snapshot of the VM restores
# with the balloon's target and statistics in a new process. Then free page
# hinting in a second VM: a run started over the API gives the guest's free
# memory back (RSS falls), ends with DONE, and the guest's data stays whole;
# a snapshot taken after it restores with the run's state.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

METRICS="$E2E_TMP/metrics.ndjson"
INFLATE=150 # MiB of a 256 MiB guest

rss_mib() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$1/status"; }
stat_of() { # stat_of FIELD: from GET /balloon/statistics
	api GET /balloon/statistics
	jq -r ".$1 // empty" <<<"$body"
}
actual_is() { [ "$(stat_of actual_mib)" = "$1" ]; }
ticks() { grep -c '^tick' "$OUT" 2>/dev/null || true; }
booted() { grep -q '^tick' "$OUT" || ! kill -0 "$pid" 2>/dev/null; } # or never will
json_is() { jq -en "input | $1" >/dev/null; } # json_is FILTER <<<JSON

# The guest: fill what memory it has free (a tmpfs file), free it, then tick.
cmd='n=$(awk '"'"'/MemAvailable/ {print int($2 / 1024) - 24}'"'"' /proc/meminfo);'
cmd+=' dd if=/dev/zero of=/tmp/fill bs=1M count=$n 2>/dev/null; rm /tmp/fill; echo filled $n;'
cmd+=' i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.5; done'

# configure_guest: the 256 MiB guest running $cmd, root on the image
configure_guest() {
	api PUT /boot-source "$(jq -n --arg k "$GUEST/vmlinux" \
		--arg a "console=ttyS0 reboot=k panic=1 quiet ember.cmd=\"$cmd\"" \
		'{kernel_image_path: $k, boot_args: $a}')"
	api PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$GUEST/rootfs.ext4\", \"is_root_device\": true, \"is_read_only\": true}"
	api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
}

pids=""
trap 'for p in $pids; do kill -KILL $p 2>/dev/null || true; done; rm -rf "$E2E_TMP"' EXIT
start_ember a --metrics-path "$METRICS"

configure_guest
api PUT /balloon '{"amount_mib": 300, "deflate_on_oom": true}'
check "PUT /balloon beyond guest memory: Firecracker's 400" \
	bash -c "[ $code = 400 ] && jq -en 'input | .fault_message == \"Balloon config error: Amount of pages requested is too large.\"' <<<'$body' >/dev/null"
api PUT /balloon '{"amount_mib": 0, "deflate_on_oom": true, "stats_polling_interval_s": 1}'
check "PUT /balloon: 204" test "$code" = 204
api PUT /actions '{"action_type": "InstanceStart"}'
check "InstanceStart: 204" test "$code" = 204

wait_for 90 booted || true
check "the guest filled and freed its memory ($(grep -m1 '^filled' "$OUT" || echo nothing))" \
	bash -c "grep -q '^filled' '$OUT' && grep -q '^tick' '$OUT'"
wait_for 90 bash -c "[ -n \"\$(curl -s --max-time 20 --unix-socket '$SOCK' http://localhost/balloon/statistics | jq -r '.total_memory // empty')\" ]" || true
api GET /balloon/statistics
check "GET /balloon/statistics: the guest's figures (total, free, available memory)" \
	bash -c "[ $code = 200 ] && jq -en 'input | .target_mib == 0 and .actual_mib == 0 and .total_memory > 200*1048576 and .free_memory > 0 and .available_memory > 0' <<<'$body' >/dev/null"

before=$(rss_mib "$pid")
api PATCH /balloon "{\"amount_mib\": $INFLATE}"
check "PATCH /balloon to $INFLATE MiB: 204" test "$code" = 204
wait_for 120 actual_is "$INFLATE" || true
check "the guest inflated the balloon to $INFLATE MiB (actual $(stat_of actual_mib))" actual_is "$INFLATE"
after=$(rss_mib "$pid")
check "ember's RSS fell by at least 100 MiB ($before MiB, then $after MiB)" \
	test $((before - after)) -ge 100
api GET /balloon
check "GET /balloon: the new target" \
	bash -c "jq -en 'input | .amount_mib == $INFLATE and .deflate_on_oom and .stats_polling_interval_s == 1' <<<'$body' >/dev/null"
api GET /vm/config
check "GET /vm/config: the balloon with its target" \
	json_is ".balloon.amount_mib == $INFLATE" <<<"$body"

api PATCH /balloon '{"amount_mib": 257}'
check "PATCH /balloon beyond guest memory is Firecracker's 400" \
	bash -c "[ $code = 400 ] && grep -q 'Balloon update error: Balloon: Requested memory should be less than 257MiB' <<<'$body'"
api PATCH /balloon/statistics '{"stats_polling_interval_s": 0}'
check "statistics cannot be turned off after boot" \
	bash -c "[ $code = 400 ] && grep -q 'Statistics cannot be enabled/disabled after activation' <<<'$body'"
api PATCH /balloon/statistics '{"stats_polling_interval_s": 2}'
check "PATCH /balloon/statistics to 2 s: 204" test "$code" = 204
api PUT /balloon '{"amount_mib": 1, "deflate_on_oom": false}'
check "PUT /balloon after boot is refused" \
	bash -c "[ $code = 400 ] && grep -q 'not supported after starting' <<<'$body'"
api PUT /actions '{"action_type": "FlushMetrics"}'
check "metrics: balloon inflations and statistics counted" \
	bash -c "tail -1 '$METRICS' | jq -en 'input | .balloon.inflate_count > 0 and .balloon.stats_updates_count > 0 and .balloon.event_fails == 0' >/dev/null"

api PATCH /balloon '{"amount_mib": 20}'
wait_for 120 actual_is 20 || true
check "deflated to 20 MiB (actual $(stat_of actual_mib))" actual_is 20
t=$(ticks)
wait_for 240 bash -c "[ \$(grep -c '^tick' '$OUT') -gt $t ]" || true
check "the guest runs on" bash -c "[ $(ticks) -gt $t ]"

# A snapshot of the VM with its balloon, loaded in a new process.
snapshot_to b
check "snapshot of the VM with a balloon: 204" test "$code" = 204
stop_ember
start_ember b
load_from b
check "PUT /snapshot/load: 204" test "$code" = 204
api GET /balloon
check "the restored VM has the balloon at 20 MiB" \
	bash -c "jq -en 'input | .amount_mib == 20 and .stats_polling_interval_s == 2' <<<'$body' >/dev/null"
check "its statistics come through: actual 20 MiB" actual_is 20
api PATCH /balloon '{"amount_mib": 40}'
wait_for 120 actual_is 40 || true
check "the restored guest's balloon follows a new target (actual $(stat_of actual_mib))" actual_is 40
stop_ember

# Free page hinting. The guest keeps 8 MiB of random data in a tmpfs file
# and checks it every tick: a page ember gave back that was not free would
# read as zeros there. Each tick also allocates and frees 8 MiB, so the
# pages the driver takes back after DONE are used again.
hint_status() { # hint_status FILTER: on GET /balloon/hinting/status
	api GET /balloon/hinting/status
	[ "$code" = 200 ] && json_is "$1" <<<"$body"
}
# (No double quotes in the command: it sits in ember.cmd="...".)
cmd='dd if=/dev/urandom of=/tmp/keep bs=1M count=8 2>/dev/null; md5sum </tmp/keep >/tmp/sum;'
cmd+=' n=$(awk '"'"'/MemAvailable/ {print int($2 / 1024) - 24}'"'"' /proc/meminfo);'
cmd+=' dd if=/dev/zero of=/tmp/fill bs=1M count=$n 2>/dev/null; rm /tmp/fill; echo filled $n;'
cmd+=' i=0; while true; do dd if=/dev/zero of=/tmp/churn bs=1M count=8 2>/dev/null; rm /tmp/churn;'
cmd+=' md5sum </tmp/keep >/tmp/now; if cmp -s /tmp/now /tmp/sum; then echo tick $i; else echo corrupt $i; fi;'
cmd+=' i=$((i+1)); sleep 0.5; done'
METRICS="$E2E_TMP/c-metrics.ndjson"
start_ember c --metrics-path "$METRICS"
configure_guest
api PUT /balloon '{"amount_mib": 0, "deflate_on_oom": true, "free_page_hinting": true}'
check "PUT /balloon with free page hinting: 204" test "$code" = 204
api PATCH /balloon/hinting/start ''
check "hinting before boot: Firecracker's 400" \
	bash -c "[ $code = 400 ] && grep -q 'not supported before starting' <<<'$body'"
api PUT /actions '{"action_type": "InstanceStart"}'
check "InstanceStart: 204" test "$code" = 204
wait_for 90 booted || true
check "the guest filled and freed its memory ($(grep -m1 '^filled' "$OUT" || echo nothing))" \
	bash -c "grep -q '^filled' '$OUT' && grep -q '^tick' '$OUT'"
check "GET /balloon/hinting/status before a run: host_cmd 0, guest_cmd null" \
	hint_status '.host_cmd == 0 and .guest_cmd == null'

before=$(rss_mib "$pid")
api PATCH /balloon/hinting/start ''
check "PATCH /balloon/hinting/start without a body: 204" test "$code" = 204
# The driver sends the run's id, its free blocks, then STOP; ember answers
# DONE (acknowledge_on_stop is true by default).
wait_for 120 hint_status '.host_cmd == 1 and .guest_cmd == 0' || true
check "the run ended: the guest said STOP and ember DONE ($body)" \
	hint_status '.host_cmd == 1 and .guest_cmd == 0'
after=$(rss_mib "$pid")
check "ember's RSS fell by at least 100 MiB ($before MiB, then $after MiB)" \
	test $((before - after)) -ge 100
api PUT /actions '{"action_type": "FlushMetrics"}'
check "metrics: hinted ranges counted and given back, no failure" \
	bash -c "tail -1 '$METRICS' | jq -en 'input | .balloon.free_page_hint_count > 0 and .balloon.free_page_hint_freed >= 100*1048576 and .balloon.free_page_hint_fails == 0' >/dev/null"
api PATCH /balloon/hinting/start '{"acknowledge_on_stop": false}'
check "a second run with acknowledge_on_stop false: 204" test "$code" = 204
wait_for 120 hint_status '.host_cmd == 3 and .guest_cmd == 0' || true
check "it ends with the guest's STOP and waits for the host ($body)" \
	hint_status '.host_cmd == 3 and .guest_cmd == 0'
api PATCH /balloon/hinting/stop ''
check "PATCH /balloon/hinting/stop: 204, DONE" \
	bash -c "[ $code = 204 ] && curl -s --max-time 20 --unix-socket '$SOCK' http://localhost/balloon/hinting/status | jq -en 'input | .host_cmd == 1' >/dev/null"
api PATCH /balloon/hinting/pause ''
check "an unknown hinting action is Firecracker's 400" \
	bash -c "[ $code = 400 ] && grep -q 'Unrecognized PATCH request path' <<<'$body'"
t=$(ticks)
wait_for 240 bash -c "[ \$(grep -c '^tick' '$OUT') -gt $((t + 2)) ]" || true
check "the guest runs on and uses its memory again" bash -c "[ $(ticks) -gt $((t + 2)) ]"
check "the guest's data is whole after hinting" bash -c "! grep -q '^corrupt' '$OUT'"

api PATCH /balloon/hinting/start ''
snapshot_to c
check "snapshot of the VM with hinting: 204" test "$code" = 204
stop_ember
start_ember d
load_from c
check "PUT /snapshot/load: 204" test "$code" = 204
check "the restored VM ends the saved run: DONE" \
	hint_status '.host_cmd == 1 and (.guest_cmd == 4 or .guest_cmd == 0)'
api PATCH /balloon/hinting/start ''
wait_for 120 hint_status '.host_cmd == 1 and .guest_cmd == 0' || true
check "a run after the restore completes ($body)" hint_status '.host_cmd == 1 and .guest_cmd == 0'
wait_for 240 grep -q '^tick' "$OUT" || true
check "the restored guest runs on with its data whole" \
	bash -c "grep -q '^tick' '$OUT' && ! grep -q '^corrupt' '$OUT'"
stop_ember
e2e_summary
