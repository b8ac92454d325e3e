#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: ember-fn prepares functions from container images built here
# (no registry) and runs each request in a fresh clone: a busybox image
# (podman import) through an oci-archive (podman save), its CMD, ENV and
# WORKDIR honoured, and from podman's store with --handler in their place;
# a Python function (Debian's python3, an OCI layout) invoked 20
# times, each in a fresh VM; bad references and images.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fn=$(dirname "$EMBER")/ember-fn
for t in podman skopeo umoci; do
	command -v "$t" >/dev/null || { echo "FAIL: $t is missing (make deps)"; exit 1; }
done
# podman's store where a host has it, in a mount namespace of our own (the
# test host's files are read-only), as tests/e2e/oci.sh does.
if [ -z "${EMBER_FN_IMAGE_NS:-}" ]; then
	exec env EMBER_FN_IMAGE_NS=1 unshare --mount --propagation private "$0" "$@"
fi
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
mount -t tmpfs tmpfs /var/tmp # podman's and skopeo's big temporary files
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup
W=$E2E_TMP/img
mkdir -p "$W"/{tmp,net,bb/bin}
export TMPDIR=$W/tmp
store=$E2E_TMP/store
PODMAN=(podman --storage-driver vfs --events-backend none --cgroup-manager cgroupfs
	--network-config-dir "$W/net")
STORAGE="containers-storage:[vfs@/var/lib/containers/storage+/run/containers/storage]"
efn() { timeout 600 "$fn" "$@" --store "$store"; }
# ticking CMD...: CMD, with a line a minute while it runs (an image's
# prepare copies, unpacks and formats its root: minutes in the test host,
# whose watchdog wants output)
exec 9>&1
ticking() {
	local p s=0
	"$@" &
	p=$!
	while kill -0 "$p" 2>/dev/null; do
		sleep 1
		s=$((s + 1))
		((s % 60)) || echo "    (still preparing: $s s)" >&9
	done
	wait "$p"
}

# A busybox image with a CMD, ENV and WORKDIR, as an oci-archive.
cp /bin/busybox "$W/bb/bin/"
for a in sh cat pwd echo; do ln -s busybox "$W/bb/bin/$a"; done
tar -C "$W/bb" -cf "$W/bb.tar" .
"${PODMAN[@]}" import -q --change 'CMD ["sh", "-c", "echo \"$FOO $(pwd) $(cat)\""]' \
	--change 'ENV FOO=bar' --change 'WORKDIR /bin' "$W/bb.tar" localhost/fn-bb >/dev/null
"${PODMAN[@]}" save -q --format oci-archive -o "$W/fn-bb.tar" localhost/fn-bb

rc=0
efn prepare --image "oci-archive:$W/fn-bb.tar" >"$E2E_TMP/bb.out" 2>"$E2E_TMP/bb.err" || rc=$?
echo "    ($(tail -1 "$E2E_TMP/bb.err"))"
expect bb "prepare --image oci-archive:FILE: a snapshot, named after the archive" \
	bash -c "[ $rc = 0 ] && [ -s $store/fn-bb/current/snap.state ]"
rc=0
out=$(echo world | efn invoke fn-bb 2>"$E2E_TMP/bb-inv.err") || rc=$?
expect bb "the image's CMD answers, with its ENV and WORKDIR" \
	bash -c "[ $rc = 0 ] && [ '$out' = 'bar /bin world' ]"

rc=0
efn prepare --image "${STORAGE}localhost/fn-bb" --name bbh --handler 'echo "handler: $(cat)"' \
	>/dev/null 2>"$E2E_TMP/bbh.err" || rc=$?
out=$(echo x | efn invoke bbh 2>>"$E2E_TMP/bbh.err") || rc=$?
expect bbh "containers-storage:NAME, with --handler CMD in the image's place (its /bin/sh)" \
	bash -c "[ $rc = 0 ] && [ '$out' = 'handler: x' ]"

# The Python function: Debian minbase with python3 and the handler,
# an OCI layout made on the host by tests/images/fn-python (umoci).
py=${EMBER_FN_PYTHON:-}
if [ -z "$py" ] || [ ! -s "$py/index.json" ]; then
	fail "the Python image: EMBER_FN_PYTHON names no OCI layout (make kvm-test builds it with tests/images/fn-python)"
else
	rc=0
	ticking efn prepare --image "oci:$py:fn" --name py >/dev/null 2>"$E2E_TMP/py.err" || rc=$?
	echo "    ($(tail -1 "$E2E_TMP/py.err"))"
	expect py "prepare --image oci:DIR:TAG (a Python function)" \
		bash -c "[ $rc = 0 ] && [ -s $store/py/current/snap.state ]"
	# File restores without the working-set recording: under the test host's
	# emulation, recording a Python start page by page through the Uffd
	# pager outlasts a request's timeout (perf/bench measures that path).
	bad=0
	t0=$(date +%s%N)
	for i in $(seq 1 20); do
		rc=0
		out=$(echo "{\"name\": \"Ember!\", \"n\": $i}" | efn invoke py --no-prefetch 2>>"$E2E_TMP/py20.err") || rc=$?
		# (jq 1.6 -e passes on empty input: the answer must be there)
		[ "$rc" = 0 ] && [ -n "$out" ] &&
			echo "$out" | jq -en --argjson n "$i" 'input | .hello == "ember" and .n == $n and .cwd == "/app" and
				.env == "image" and .b64 == "ZW1iZXI=" and .year_ok' >/dev/null 2>&1 ||
			{ bad=$((bad + 1)); echo "request $i: rc=$rc out=$out" >>"$E2E_TMP/py20.err"; }
		((i % 5)) || echo "    ($i of 20 invokes, $bad failed)"
	done
	echo "    (20 Python invokes in $((($(date +%s%N) - t0) / 1000000)) ms)"
	expect py20 "20 Python invokes: JSON answers, each in a fresh VM (no marker of an earlier one)" \
		bash -c "[ $bad = 0 ]"
fi

# Bad references and images: 125, a message, nothing left in the store.
rc=0
efn prepare --image localhost/fn-bb --name noref >/dev/null 2>"$E2E_TMP/noref.err" || rc=$?
expect noref "a reference without its transport: refused, naming the transports" \
	bash -c "[ $rc = 125 ] && grep -q 'oci-archive:FILE' $E2E_TMP/noref.err && [ ! -e $store/noref/current ]"
rc=0
efn prepare --image "oci-archive:$W/missing.tar" --name missing >/dev/null 2>"$E2E_TMP/missing.err" || rc=$?
expect missing "a missing archive: skopeo's error quoted, nothing left" \
	bash -c "[ $rc = 125 ] && grep -q 'copying the image' $E2E_TMP/missing.err &&
		[ -z \"\$(ls $store/missing 2>/dev/null)\" ]"
"${PODMAN[@]}" import -q "$W/bb.tar" localhost/fn-nocmd >/dev/null
rc=0
efn prepare --image "${STORAGE}localhost/fn-nocmd" >/dev/null 2>"$E2E_TMP/nocmd.err" || rc=$?
expect nocmd "an image with nothing to run and no --handler: refused, asking for --handler" \
	bash -c "[ $rc = 125 ] && grep -q -- '--handler' $E2E_TMP/nocmd.err &&
		[ -z \"\$(ls $store/fn-nocmd 2>/dev/null)\" ]"

e2e_summary
