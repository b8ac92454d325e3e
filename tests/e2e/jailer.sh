#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: ember-jailer. A probe (build/tests/jail-probe) jailed in
# ember's place reports what it can see and do; cgroup values land in the
# cgroup files (v1, and v2 where a controller is free for it); the jailed
# ember boots the guest from files placed in the jail, driven through the
# API socket inside the jail. Needs root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JAILER="$top/build/ember-jailer"
PROBE="$top/build/tests/jail-probe"
for b in "$JAILER" "$PROBE"; do
	[ -x "$b" ] || { echo "FAIL: $b is not built (make kvm-test builds it)"; exit 1; }
done
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: ember-jailer needs root (mknod, pivot_root, cgroups, setuid)"
	exit 0
fi
JUID=12345
base="$E2E_TMP/jail"
mkdir -p "$base"
cgdirs=()
mounted=()
cleanup() {
	local d
	for ((i = ${#cgdirs[@]} - 1; i >= 0; i--)); do rmdir "${cgdirs[$i]}" 2>/dev/null || true; done
	for d in "${mounted[@]}"; do umount "$d" 2>/dev/null || true; done
	rm -rf "$E2E_TMP"
}
trap cleanup EXIT

# jail NAME ARGS...: run the jailer (stdout/stderr in $E2E_TMP/NAME.out/.err), status in $rc
jail() {
	local name=$1
	shift
	set +e
	with_deadline "$E2E_TIMEOUT" "$JAILER" "$@" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" </dev/null
	rc=$?
	set -e
}
val() { sed -n "s/^$2=//p" "$E2E_TMP/$1.out" | head -1; }
zero=0000000000000000
probe_args=(--exec-file "$PROBE" --uid "$JUID" --gid "$JUID" --chroot-base-dir "$base")

# --- What a jailed process can see and do
jail probe --id probe-1 "${probe_args[@]}" -- --extra-flag value
expect probe "the jailed probe runs and gets --id, the start times and the extra args" \
	bash -c "[ $rc = 0 ] && grep -qx 'arg=probe-1' $E2E_TMP/probe.out &&
		grep -qx 'arg=--start-time-us' $E2E_TMP/probe.out &&
		grep -qx 'arg=--parent-cpu-time-us' $E2E_TMP/probe.out &&
		grep -qx 'arg=--extra-flag' $E2E_TMP/probe.out && grep -qx 'arg=value' $E2E_TMP/probe.out"
expect probe "it runs as the requested uid and gid, with no supplementary groups" \
	bash -c "grep -qx 'uid=$JUID euid=$JUID gid=$JUID egid=$JUID' $E2E_TMP/probe.out &&
		grep -qx 'groups=0' $E2E_TMP/probe.out"
expect probe "every capability set is empty, the bounding set too; no_new_privs is set" \
	bash -c "[ '$(val probe cap_effective) $(val probe cap_permitted) $(val probe cap_inheritable)' = '$zero $zero $zero' ] &&
		[ '$(val probe cap_bounding_count)' = 0 ] && [ '$(val probe cap_ambient_count)' = 0 ] &&
		[ '$(val probe no_new_privs)' = 1 ]"
expect probe "the host's /etc and /proc are unreachable, also through .." \
	bash -c "[ '$(val probe etc)' = 'No such file or directory' ] &&
		[ '$(val probe proc)' = 'No such file or directory' ] &&
		[ '$(val probe dotdot)' = 'No such file or directory' ] && [ '$(val probe cwd)' = / ]"
expect probe "empty environment, only stdio open, no-file limit 2048, no mknod" \
	bash -c "[ '$(val probe environ)' = '(empty)' ] && [ '$(val probe open_fds)' = 3 ] &&
		[ '$(val probe nofile)' = 2048 ] && [ '$(val probe mknod)' = 'Operation not permitted' ]"

# The jail holds exactly: the binary, its pid file, /run and four device nodes.
want="/ d $JUID:$JUID
/dev d $JUID:$JUID
/dev/kvm c $JUID:$JUID 600
/dev/net d $JUID:$JUID
/dev/net/tun c $JUID:$JUID 600
/dev/urandom c $JUID:$JUID 600
/jail-probe f $JUID:$JUID
/jail-probe.pid f 0:0
/run d $JUID:$JUID"
grep -qw userfaultfd /proc/misc && want="$want
/dev/userfaultfd c $JUID:$JUID 600"
sed -n 's/^path=//p' "$E2E_TMP/probe.out" |
	awk '{ if ($2 == "c") print $1, $2, $3, $4; else print $1, $2, $3 }' | sort >"$E2E_TMP/walk"
sort <<<"$want" >"$E2E_TMP/want"
expect probe "walking the jail finds only the binary, its pid file, /run and the device nodes" \
	diff "$E2E_TMP/want" "$E2E_TMP/walk"
expect probe "the pid file holds the process's pid" \
	bash -c "[ \"\$(cat $base/jail-probe/probe-1/root/jail-probe.pid)\" = '$(val probe pid)' ]"

jail pidns --id probe-2 "${probe_args[@]}" --new-pid-ns
sleep 0.5 # the parent leaves at once; its child (PID 1 inside) reports
expect pidns "--new-pid-ns: the binary is PID 1 of its namespace, its host pid in the pid file" \
	bash -c "grep -qx 'pid=1' $E2E_TMP/pidns.out &&
		[ \"\$(cat $base/jail-probe/probe-2/root/jail-probe.pid)\" -gt 1 ]"

jail userns --id probe-3 "${probe_args[@]}" --new-user-ns
if grep -q 'cannot create a user namespace' "$E2E_TMP/userns.err"; then
	echo "SKIP: --new-user-ns: this kernel does not let an unprivileged process create a user namespace"
else
	expect userns "--new-user-ns: same uid and gid inside, no capabilities in the new namespace" \
		bash -c "[ $rc = 0 ] && grep -qx 'uid=$JUID euid=$JUID gid=$JUID egid=$JUID' $E2E_TMP/userns.out &&
			[ '$(val userns cap_effective)' = $zero ] && [ '$(val userns cap_bounding_count)' = 0 ]"
fi

jail badid --id 'bad/id' "${probe_args[@]}"
expect badid "a bad --id exits 10 and says why" \
	bash -c "[ $rc = 10 ] && grep -q 'letters, digits' $E2E_TMP/badid.err"
jail badexec --id ok --exec-file /nonexistent --uid 1 --gid 1 --chroot-base-dir "$base"
expect badexec "a missing --exec-file exits 11" bash -c "[ $rc = 11 ] && grep -q nonexistent $E2E_TMP/badexec.err"
jail badparent --id ok "${probe_args[@]}" --parent-cgroup ../escape
expect badparent "a parent cgroup with .. exits 14" bash -c "[ $rc = 14 ]"

# --- cgroups: a hierarchy per controller (v1), mounted here if the host has none
v1_mount() { # v1_mount CONTROLLER VAR: VAR = its mount point, mounting one if needed
	local m
	m=$(awk -v c="$1" '$3 == "cgroup" && ("," $4 ",") ~ ("," c ",") { print $2; exit }' /proc/mounts)
	if [ -z "$m" ]; then
		m="$E2E_TMP/cg-$1"
		mkdir -p "$m"
		mount -t cgroup -o "$1" cgroup "$m" 2>/dev/null || return 1
		mounted+=("$m")
	fi
	printf -v "$2" '%s' "$m"
}
v2_mount() { # v2_mount VAR
	local m
	m=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	if [ -z "$m" ]; then
		m="$E2E_TMP/cg2"
		mkdir -p "$m"
		mount -t cgroup2 none "$m" 2>/dev/null || return 1
		mounted+=("$m")
	fi
	printf -v "$1" '%s' "$m"
}

# --- The jailed ember boots the guest from files placed in the jail
root="$base/ember/boot-1/root"
mkdir -p "$root"
cp "$GUEST/vmlinux" "$GUEST/initramfs.cpio" "$root/"
chown "$JUID:$JUID" "$root/vmlinux" "$root/initramfs.cpio"
cg_args=()
cpuset="" cpu=""
if ! v1_mount cpuset cpuset || ! v1_mount cpu cpu; then
	cpuset=""
	echo "SKIP: cgroup v1: no cpuset and cpu hierarchies can be mounted here"
fi
if [ -n "$cpuset" ]; then
	cg_args=(--cgroup cpuset.cpus=0 --cgroup cpu.shares=123 --parent-cgroup ember-test)
	cgdirs+=("$cpuset/ember-test" "$cpuset/ember-test/boot-1" "$cpu/ember-test" "$cpu/ember-test/boot-1")
fi
"$JAILER" --id boot-1 --exec-file "$EMBER" --uid "$JUID" --gid "$JUID" --chroot-base-dir "$base" \
	"${cg_args[@]}" -- --level Info >"$E2E_TMP/boot.out" 2>"$E2E_TMP/boot.err" </dev/null &
jpid=$!
sock="$root/run/ember.socket"
for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
api() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -X PUT "http://localhost$1" -d "$2"; }
expect boot "the jailed ember serves its API on /run/ember.socket inside the jail" test -S "$sock"
epid=$(cat "$root/ember.pid" 2>/dev/null || echo 0)
api_thread=$(grep -l '^Name:.*ember_api' /proc/"$epid"/task/*/status 2>/dev/null | head -1)
expect boot "seccomp is on by default: the API thread is filtered (Seccomp: 2)" \
	bash -c "[ -n '$api_thread' ] && grep -q '^Seccomp:[[:space:]]*2' '$api_thread'"
expect boot "the jailed ember runs as uid $JUID with no capabilities" \
	bash -c "grep -q '^Uid:[[:space:]]*$JUID' /proc/$epid/status &&
		grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/$epid/status &&
		grep -q '^CapBnd:[[:space:]]*0000000000000000' /proc/$epid/status"
if [ -n "$cpuset" ]; then
	expect boot "cgroup v1: the values are in the cgroup files and ember is in tasks" \
		bash -c "[ \"\$(cat $cpuset/ember-test/boot-1/cpuset.cpus)\" = 0 ] &&
			[ \"\$(cat $cpu/ember-test/boot-1/cpu.shares)\" = 123 ] &&
			grep -qx $epid $cpuset/ember-test/boot-1/tasks && grep -qx $epid $cpu/ember-test/boot-1/tasks"
fi
args=$(guest_args 'echo jailed-guest-ok')
codes="$(api /boot-source "{\"kernel_image_path\": \"/vmlinux\", \"initrd_path\": \"/initramfs.cpio\", \"boot_args\": \"$args\"}")"
codes="$codes $(api /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}')"
codes="$codes $(api /actions '{"action_type": "InstanceStart"}')"
gone_within "$E2E_TIMEOUT" "$jpid" || true
kill "$jpid" 2>/dev/null && dump_stuck "$epid"
set +e
wait "$jpid"
rc=$?
set -e
expect boot "the jailed ember boots the guest from the jail's files (paths inside the jail)" \
	bash -c "[ '$codes' = '204 204 204' ] && [ $rc = 0 ] && grep -q jailed-guest-ok $E2E_TMP/boot.out"

# --- --daemonize and --netns: the jailer returns at once, ember lives on
# detached in its own session, inside the given network namespace.
ns=ember-jail-$$
ip netns add "$ns"
jail daemon --id daemon-1 --exec-file "$EMBER" --uid "$JUID" --gid "$JUID" --chroot-base-dir "$base" \
	--daemonize --netns "/var/run/netns/$ns"
droot="$base/ember/daemon-1/root"
for ((i = 0; i < 100; i++)); do [ -S "$droot/run/ember.socket" ] && break; sleep 0.1; done
dpid=$(cat "$droot/ember.pid" 2>/dev/null || echo 0)
expect daemon "--daemonize: the jailer exits 0, ember serves its API, stdio on /dev/null, own session" \
	bash -c "[ $rc = 0 ] && [ -S $droot/run/ember.socket ] && kill -0 $dpid &&
		[ \"\$(readlink /proc/$dpid/fd/0)\" = /dev/null ] && [ \"\$(readlink /proc/$dpid/fd/2)\" = /dev/null ] &&
		[ \"\$(ps -o sid= -p $dpid)\" != \"\$(ps -o sid= -p $$)\" ]"
expect daemon "--netns: ember runs in the given network namespace" \
	bash -c "[ \"\$(readlink /proc/$dpid/ns/net)\" = \"net:[\$(stat -L -c %i /var/run/netns/$ns)]\" ]"
kill -TERM "$dpid" 2>/dev/null || true
for ((i = 0; i < 50; i++)); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
ip netns del "$ns" || true

# --- cgroup v2, where a controller is free to be used there
m2=""
if v2_mount m2 && grep -qw pids "$m2/cgroup.controllers"; then
	cgdirs+=("$m2/ember-v2" "$m2/ember-v2/probe-4")
	jail v2 --id probe-4 "${probe_args[@]}" --cgroup-version 2 --parent-cgroup ember-v2 --cgroup pids.max=20
	expect v2 "cgroup v2: pids.max lands in the new cgroup, the controller enabled above it" \
		bash -c "[ $rc = 0 ] && [ \"\$(cat $m2/ember-v2/probe-4/pids.max)\" = 20 ] &&
			grep -qw pids $m2/ember-v2/cgroup.subtree_control"
else
	echo "SKIP: cgroup v2: no cgroup2 hierarchy with a free pids controller here (v1 holds it)"
fi

e2e_summary
