#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: ember-fn prepares functions from container images built here
# (no registry) and runs each request in a fresh clone: a busybox image
# (podman import) through an oci-archive and a docker-archive (podman
# save), its CMD, ENV and WORKDIR honoured, and from podman's store with
# --handler in their place; a Node.js function (Debian's nodejs, an OCI
# layout) invoked 8 times (EMBER_FN_IMAGE_RUNS), each in a fresh VM (the Python image is an HTTP
# function: fn-http.sh); bad references and images.
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

"${PODMAN[@]}" save -q --format docker-archive -o "$W/fn-bb-docker.tar" localhost/fn-bb
rc=0
efn prepare --image "docker-archive:$W/fn-bb-docker.tar" --name bbd >/dev/null 2>"$E2E_TMP/bbd.err" || rc=$?
out=$(echo docker | efn invoke bbd 2>>"$E2E_TMP/bbd.err") || rc=$?
expect bbd "docker-archive:FILE (podman save's Docker format): the same CMD, ENV and WORKDIR" \
	bash -c "[ $rc = 0 ] && [ '$out' = 'bar /bin docker' ]"

rc=0
efn prepare --image "${STORAGE}localhost/fn-bb" --name bbh --handler 'echo "handler: $(cat)"' \
	>/dev/null 2>"$E2E_TMP/bbh.err" || rc=$?
out=$(echo x | efn invoke bbh 2>>"$E2E_TMP/bbh.err") || rc=$?
expect bbh "containers-storage:NAME, with --handler CMD in the image's place (its /bin/sh)" \
	bash -c "[ $rc = 0 ] && [ '$out' = 'handler: x' ]"

# A runtime's function: Debian minbase with the runtime and the handler,
# an OCI layout made on the host by tests/images/fn-lang (umoci).
# lang_function NAME LAYOUT WHAT
lang_function() {
	local name=$1 layout=$2 what=$3 bad=0 t0 i out runs=${EMBER_FN_IMAGE_RUNS:-8}
	if [ -z "$layout" ] || [ ! -s "$layout/index.json" ]; then
		fail "the $what image: no OCI layout (make kvm-test builds it with tests/images/fn-lang)"
		return
	fi
	rc=0
	ticking efn prepare --image "oci:$layout:fn" --name "$name" >/dev/null 2>"$E2E_TMP/$name.err" || rc=$?
	echo "    ($(tail -1 "$E2E_TMP/$name.err"))"
	expect "$name" "prepare --image oci:DIR:TAG (a $what function)" \
		bash -c "[ $rc = 0 ] && [ -s $store/$name/current/snap.state ]"
	# File restores without the working-set recording: under the test host's
	# emulation, recording a runtime's start page by page through the Uffd
	# pager outlasts a request's timeout (perf/bench measures that path).
	# (8 by default, as each takes about 6 s in the test host; more with
	# EMBER_FN_IMAGE_RUNS)
	t0=$(date +%s%N)
	for i in $(seq 1 "$runs"); do
		rc=0
		out=$(echo "{\"name\": \"Ember!\", \"n\": $i}" |
			efn invoke "$name" --no-prefetch 2>>"$E2E_TMP/${name}20.err") || rc=$?
		# (jq 1.6 -e passes on empty input: the answer must be there)
		[ "$rc" = 0 ] && [ -n "$out" ] &&
			echo "$out" | jq -en --argjson n "$i" 'input | .hello == "ember" and .n == $n and .cwd == "/app" and
				.env == "image" and .b64 == "ZW1iZXI=" and .year_ok' >/dev/null 2>&1 ||
			{ bad=$((bad + 1)); echo "request $i: rc=$rc out=$out" >>"$E2E_TMP/${name}20.err"; }
		((i % 4)) || echo "    ($i of $runs invokes, $bad failed)"
	done
	echo "    ($runs $what invokes in $((($(date +%s%N) - t0) / 1000000)) ms)"
	expect "${name}runs" "$runs $what invokes: JSON answers, each in a fresh VM (no marker of an earlier one)" \
		bash -c "[ $bad = 0 ]"
}
lang_function node "${EMBER_FN_NODE:-}" Node.js

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
