#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: ember-oci as the runtime of the container engines users have.
# podman (--runtime build/ember-oci) runs an image built here (a busybox
# root imported with `podman import`, no registry): output, exit status,
# stdin, a terminal, env/cwd/user/hostname, the guest's kernel, run -d with
# stop (SIGTERM, and SIGKILL after the timeout), exec, kill, ps, logs, rm,
# a volume refused; containerd's ctr with --runc-binary; bad bundles through
# ember-oci directly; and nothing left behind after many runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OCI=$top/build/ember-oci
for t in podman conmon containerd ctr; do
	command -v "$t" >/dev/null || { echo "FAIL: $t is missing (make deps)"; exit 1; }
done

# The engines' state where a host has it, in a mount namespace of our own:
# the test host's files are read-only. Later engine calls (podman's cleanup,
# the containerd shim's) reach ember-oci without runtime flags, so it is
# exercised with its defaults: /run/ember-oci, /var/lib/ember-oci/templates.
if [ -z "${EMBER_OCI_NS:-}" ]; then
	exec env EMBER_OCI_NS=1 unshare --mount --propagation private "$0" "$@"
fi
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
# podman needs a cgroup2 hierarchy; the test host mounts none.
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup
W=$E2E_TMP/oci
mkdir -p "$W"/{net,tmp,img/bin}
export TMPDIR=$W/tmp
PODMAN=(podman --network-config-dir "$W/net" --cgroup-manager cgroupfs --events-backend none
	--storage-driver vfs --runtime "$OCI")
pod() { "${PODMAN[@]}" "$@"; }

# The image: busybox-static and its applets.
cp /bin/busybox "$W/img/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$W/img/bin/$a"; done
mkdir -p "$W/img"/{etc,tmp,proc,sys,dev,root}
echo "root:x:0:0:root:/root:/bin/sh" >"$W/img/etc/passwd"
echo "root:x:0:" >"$W/img/etc/group"
tar -C "$W/img" -cf "$W/img.tar" .
pod import -q "$W/img.tar" localhost/ember-bb >/dev/null
IMG=localhost/ember-bb

# run NAME ARGS...: a podman run, output in NAME.out/.err, status in $rc
run() {
	local name=$1
	shift
	set +e
	timeout -k 5 300 "${PODMAN[@]}" run "$@" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" </dev/null
	rc=$?
	set -e
}

run hello --rm --network none "$IMG" echo hello
expect hello "podman run --rm IMG echo hello" bash -c "[ $rc = 0 ] && grep -qx hello $E2E_TMP/hello.out"

run status --rm --network none "$IMG" sh -c 'exit 7'
expect status "the process's exit status (7) is podman's" bash -c "[ $rc = 7 ]"

set +e
printf 'from-stdin\n' | timeout -k 5 300 "${PODMAN[@]}" run --rm -i --network none "$IMG" \
	sh -c 'read x; echo "got $x"' >"$E2E_TMP/stdin.out" 2>"$E2E_TMP/stdin.err"
rc=$?
set -e
expect stdin "-i: stdin reaches the process, and its end too" \
	bash -c "[ $rc = 0 ] && grep -qx 'got from-stdin' $E2E_TMP/stdin.out"

run tty --rm -t --network none "$IMG" tty
expect tty "-t: the process has a terminal (tty prints a pts)" \
	bash -c "[ $rc = 0 ] && grep -q '^/dev/pts/[0-9]' $E2E_TMP/tty.out"

run opts --rm --network none -e FOO=bar -w /tmp --user 1000:1000 --hostname h1 "$IMG" \
	sh -c 'echo "$FOO $(pwd) $(id -u):$(id -g) $(hostname)"'
expect opts "-e, -w, --user 1000:1000, --hostname reach the process" \
	bash -c "[ $rc = 0 ] && grep -qx 'bar /tmp 1000:1000 h1' $E2E_TMP/opts.out"

run kernel --rm --network none "$IMG" uname -r
expect kernel "uname -r shows the guest's kernel, not the host's ($(uname -r))" \
	bash -c "[ $rc = 0 ] && [ -s $E2E_TMP/kernel.out ] && ! grep -qx '$(uname -r)' $E2E_TMP/kernel.out"

# An ordinary distribution image: Debian minbase (glibc, dynamic binaries,
# users by name from its /etc/passwd), imported from a local debootstrap.
deb_tar=${EMBER_OCI_DEBIAN:-}
if [ -z "$deb_tar" ] || [ ! -s "$deb_tar" ]; then
	fail "the Debian minbase image: EMBER_OCI_DEBIAN names no tarball (make kvm-test builds it with tests/images/debian-minbase)"
else
	echo "    (importing the Debian image; its first run builds a $(du -sm "$deb_tar" | cut -f1) MiB root image)"
	pod import -q "$deb_tar" localhost/ember-debian >/dev/null
	run debian --rm --network none --user nobody localhost/ember-debian \
		bash -c 'echo "$(cat /etc/debian_version) $(id -un) ${BASH_VERSION%%.*}"; dpkg-query -W -f="\${Version}\n" libc6'
	expect debian "a Debian minbase image: bash and dpkg run, --user nobody by name" \
		bash -c "[ $rc = 0 ] && grep -qE '^12\.[0-9]+ nobody 5\$' $E2E_TMP/debian.out && grep -qE '^2\.36' $E2E_TMP/debian.out"
fi

# wait_up ID: until the container's log says "up" (60 s at most).
wait_up() {
	local i
	[ -n "$1" ] || return 0
	for ((i = 0; i < 120; i++)); do
		pod logs "$1" 2>/dev/null | grep -q up && return 0
		sleep 0.5
	done
}

# run -d, then stop: SIGTERM reaches the process, which answers it.
run d1 -d --network none "$IMG" sh -c 'trap "echo got-term; exit 3" TERM; echo up; while :; do sleep 0.1; done'
c1=$(cat "$E2E_TMP/d1.out")
wait_up "$c1"
set +e
pod exec "$c1" echo in-exec >"$E2E_TMP/exec.out" 2>"$E2E_TMP/exec.err"
exec_rc=$?
pod ps --format '{{.ID}} {{.Status}}' >"$E2E_TMP/ps.out" 2>&1
pod stop -t 30 "$c1" >/dev/null 2>"$E2E_TMP/stop.err"
code=$(pod inspect -f '{{.State.ExitCode}}' "$c1" 2>/dev/null)
pod logs "$c1" >"$E2E_TMP/logs.out" 2>&1
set -e
expect d1 "exec runs a second process in the container" \
	bash -c "[ $exec_rc = 0 ] && grep -qx in-exec $E2E_TMP/exec.out"
expect d1 "podman ps lists the running container" \
	bash -c "grep -q '^${c1:0:12} Up' $E2E_TMP/ps.out"
expect d1 "stop: SIGTERM reaches the process, whose exit status (3) podman reports" \
	bash -c "[ '$code' = 3 ] && grep -q got-term $E2E_TMP/logs.out"
set +e
pod rm "$c1" >/dev/null 2>&1
rm_rc=$?
set -e
expect d1 "rm removes it" bash -c "[ $rm_rc = 0 ] && ! ${PODMAN[*]} inspect $c1 >/dev/null 2>&1"

# A process that ignores SIGTERM is killed after the timeout.
run d2 -d --network none "$IMG" sh -c 'trap "" TERM; echo up; while :; do sleep 0.1; done'
c2=$(cat "$E2E_TMP/d2.out")
wait_up "$c2"
set +e
pod stop -t 2 "$c2" >/dev/null 2>&1
code=$(pod inspect -f '{{.State.ExitCode}}' "$c2" 2>/dev/null)
pod rm "$c2" >/dev/null 2>&1
set -e
expect d2 "stop -t 2 on a process that ignores SIGTERM: killed (137)" bash -c "[ '$code' = 137 ]"

run d3 -d --network none "$IMG" sleep 1000
c3=$(cat "$E2E_TMP/d3.out")
set +e
pod kill -s KILL "$c3" >/dev/null 2>&1
for ((i = 0; i < 120 && ${#c3} > 0; i++)); do
	[ "$(pod inspect -f '{{.State.Status}}' "$c3" 2>/dev/null)" = exited ] && break
	sleep 0.5
done
code=$(pod inspect -f '{{.State.ExitCode}}' "$c3" 2>/dev/null)
pod rm "$c3" >/dev/null 2>&1
set -e
expect d3 "kill -s KILL ends the container with 137" bash -c "[ '$code' = 137 ]"

# podman's default bridge network: the VM has the container's address and
# reaches a server on the test host through the bridge's gateway.
socat -T 60 TCP-LISTEN:18080,reuseaddr,fork SYSTEM:'echo pong-from-host' 2>"$E2E_TMP/srv.err" &
srv=$!
run net --rm "$IMG" sh -c \
	'ip -4 addr show eth0; gw=$(ip route | awk "/^default/ {print \$3}"); echo ping | nc -w 20 $gw 18080'
kill "$srv" 2>/dev/null || true
expect net "on podman's bridge network the container has its address and reaches a server on the test host" \
	bash -c "[ $rc = 0 ] && grep -q 'inet 10\.88\.' $E2E_TMP/net.out && grep -qx pong-from-host $E2E_TMP/net.out"

mkdir -p "$W/vol"
run vol --rm --network none -v "$W/vol:/data" "$IMG" true
expect vol "a volume is refused with a clear message naming it" \
	bash -c "[ $rc != 0 ] && grep -q 'volume' $E2E_TMP/vol.err && grep -q '/data' $E2E_TMP/vol.err"

# ---- bad bundles, straight to ember-oci: runc's JSON error line, status 1,
# nothing left behind ----
B=$W/bundles
mkdir -p "$B/ok/rootfs/bin" "$B/noconfig" "$B/badjson" "$B/noroot"
cp /bin/busybox "$B/ok/rootfs/bin/"
ln -s busybox "$B/ok/rootfs/bin/sh"
(cd "$B/ok" && runc spec && jq '.process.terminal=false | .process.args=["sh","-c","sleep 1000"]' \
	config.json >c.json && mv c.json config.json)
echo '{"ociVersion": "1.0.2", "process": {' >"$B/badjson/config.json"
jq '.root.path="/nonexistent/root"' "$B/ok/config.json" >"$B/noroot/config.json"
# oci_bad NAME MESSAGE ARGS...: fails with MESSAGE in one JSON error line,
# and /run/ember-oci/NAME is not there (or, for "dup", still there)
oci_bad() {
	local name=$1 msg=$2 left="[ ! -e /run/ember-oci/$1 ]"
	shift 2
	[ "$name" = dup ] && left="[ -e /run/ember-oci/dup ]"
	rm -f "$E2E_TMP/$name.log"
	set +e
	"$OCI" --log "$E2E_TMP/$name.log" --log-format json "$@" >"$E2E_TMP/$name.out" \
		2>"$E2E_TMP/$name.err"
	rc=$?
	set -e
	expect "$name" "$name: status 1, one JSON error line (\"$msg\"), nothing left" \
		bash -c "[ $rc = 1 ] && [ \$(wc -l <$E2E_TMP/$name.log) = 1 ] &&
			jq -en 'input | .level == \"error\" and (.msg | contains(\"$msg\")) and (.time | length > 0)' \
				$E2E_TMP/$name.log >/dev/null &&
			grep -qF '$msg' $E2E_TMP/$name.err && $left"
}
oci_bad noconfig "config.json could not be opened" create --bundle "$B/noconfig" noconfig
oci_bad badjson "config.json: " create --bundle "$B/badjson" badjson
oci_bad noroot "rootfs (/nonexistent/root) does not exist" create --bundle "$B/noroot" noroot
oci_bad unknown "container does not exist" state unknown
oci_bad badid "invalid container id format" create --bundle "$B/ok" "../x"
set +e
"$OCI" create --bundle "$B/ok" --pid-file "$E2E_TMP/dup.pid" dup >/dev/null 2>"$E2E_TMP/dup1.err"
dup_rc=$?
set -e
oci_bad dup "container with id exists: dup" create --bundle "$B/ok" dup
"$OCI" state dup >"$E2E_TMP/dupstate.out" 2>&1 || true
expect dup "the first container of that id is untouched (created), then deleted" \
	bash -c "[ $dup_rc = 0 ] && jq -en 'input | .status == \"created\" and .pid == $(cat "$E2E_TMP/dup.pid" 2>/dev/null || echo 0)' \
		$E2E_TMP/dupstate.out >/dev/null && $OCI delete dup && [ ! -e /run/ember-oci/dup ]"

# ---- containerd: ctr run with --runc-binary (io.containerd.runc.v2) ----
mkdir -p "$W/ctrd"
cat >"$W/ctrd/config.toml" <<TOML
version = 2
[plugins."io.containerd.internal.v1.opt"]
  path = "$W/ctrd/opt"
TOML
containerd --config "$W/ctrd/config.toml" >"$W/ctrd/log" 2>&1 &
ctrd=$!
for ((i = 0; i < 600; i++)); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done
pod save -q --format oci-archive -o "$W/img-oci.tar" "$IMG"
CTR=(ctr --timeout 300s)
set +e
"${CTR[@]}" image import --snapshotter native --base-name localhost/ember-bb "$W/img-oci.tar" \
	>"$E2E_TMP/ctr-import.out" 2>&1
ref=$("${CTR[@]}" image ls -q | grep ember-bb | head -1)
timeout -k 5 300 "${CTR[@]}" run --snapshotter native --runc-binary "$OCI" --rm "$ref" ctr1 \
	sh -c 'echo from-containerd; exit 3' >"$E2E_TMP/ctr.out" 2>"$E2E_TMP/ctr.err" </dev/null
rc=$?
set -e
expect ctr "containerd (ctr run --runc-binary): the process's output and exit status (3)" \
	bash -c "[ $rc = 3 ] && grep -qx from-containerd $E2E_TMP/ctr.out"
kill "$ctrd" 2>/dev/null || true
wait "$ctrd" 2>/dev/null || true

# ---- many runs in a row leave nothing behind: 10, one after the other ----
# (EMBER_OCI_RUNS=50 or more for a longer soak; 10, about 7 s each in the
# test host, keep `make test` within CI's 30 minutes and still take two
# runs on podman's bridge)
runs=${EMBER_OCI_RUNS:-10}
awk '{print $5}' /proc/self/mountinfo | sort >"$W/mounts.before"
t0=$(date +%s)
leak_fail=0
for ((k = 0; k < runs; k++)); do
	# every fifth on podman's bridge network: a netns, a veth, a TAP
	netopt=(--network none)
	((k % 5 == 4)) && netopt=()
	if ! timeout -k 5 120 "${PODMAN[@]}" run --rm "${netopt[@]}" "$IMG" true \
		>/dev/null 2>"$E2E_TMP/leak-$k.err" </dev/null; then
		leak_fail=1
		fail "run $((k + 1)) of $runs" "$E2E_TMP/leak-$k.err"
	fi
	((k % 5 == 4)) && echo "    ($((k + 1)) of $runs runs, $(($(date +%s) - t0)) s)"
done
# podman run --rm returns once the container is gone from podman; its
# cleanup may still be ending the last one: give it 30 s to be done.
for ((i = 0; i < 300; i++)); do
	pgrep -x ember >/dev/null || [ -n "$(ls /run/ember-oci 2>/dev/null)" ] || break
	sleep 0.1
done
pgrep -x ember >"$E2E_TMP/leak-procs.out" || true
find /run/ember-oci -mindepth 1 -maxdepth 1 >"$E2E_TMP/leak-dirs.out" 2>/dev/null || true
find /sys/fs/cgroup -name 'libpod-*' >"$E2E_TMP/leak-cgroups.out" 2>/dev/null || true
awk '{print $5}' /proc/self/mountinfo | sort | comm -13 "$W/mounts.before" - >"$E2E_TMP/leak-mounts.out"
find /run/netns -mindepth 1 >"$E2E_TMP/leak-netns.out" 2>/dev/null || true
ip -o link show type veth >"$E2E_TMP/leak-veth.out" 2>/dev/null || true
ip -o link show type tun >"$E2E_TMP/leak-tap.out" 2>/dev/null || true
cat "$E2E_TMP"/leak-*.out >"$E2E_TMP/leak.out"
expect leak "$runs podman run --rm in a row succeed and leave no ember process, state directory, root image, cgroup, mount, netns, veth or TAP" \
	bash -c "[ $leak_fail = 0 ] && [ ! -s $E2E_TMP/leak.out ]"

e2e_summary
