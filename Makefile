# SPDX-License-Identifier: Apache-2.0
# ember: one non-recursive Makefile. `make help` lists the targets.

BUILD ?= build
CC ?= cc
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
say = $(if $(filter 1,$(V)),,@printf '  %-7s %s\n' $(1) $(2);)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wwrite-strings -Wpointer-arith -Werror
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -fstack-protector-strong $(WARN) -MMD -MP
CPPFLAGS += -Ivmm -Ivmm/resources -Ivirtio -Iapi -Ijailer -Isnapshot -Ifn -Ioci
# lwIP (MMDS's TCP/IP): its headers as system headers, out of -Werror's way;
# linked only into what uses it (--as-needed).
LWIP_CPPFLAGS := -isystem /usr/include/lwip
LWIP_LIBS := -Wl,--as-needed -llwip -Wl,--no-as-needed
# -z now: every library symbol bound at start (and the GOT read-only, full
# RELRO); a spare ember spawned ahead pays for the binding before a request
# comes, not on each function's first call inside a snapshot load.
LDLIBS := $(LWIP_LIBS) -ljansson -lhttp_parser -lpthread -Wl,-z,now -Wl,-z,relro
SANITIZE :=

# Debian packages the project needs (`make deps`).
DEB_PKGS := build-essential pkg-config clang clang-format libclang-rt-14-dev file kmod libseccomp-dev libcap-dev \
	libcriterion-dev libjansson-dev libhttp-parser-dev linux-source-6.1 flex bison bc libelf-dev libssl-dev \
	dwarves busybox-static e2fsprogs cpio curl jq socat qemu-system-x86 gnuplot-nox acpica-tools debootstrap umoci \
	podman conmon containerd runc crun skopeo libnl-route-3-dev liblwip-dev strace

LIB_SRCS := $(wildcard vmm/*.c) $(wildcard vmm/resources/*.c) $(wildcard virtio/*.c) \
	$(filter-out snapshot/editor_main.c snapshot/uffd_handler.c,$(wildcard snapshot/*.c)) \
	$(filter-out api/main.c api/invoke_main.c,$(wildcard api/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
KVM_SRCS := $(wildcard tests/kvm/*.c)
KVM_OBJS := $(KVM_SRCS:%.c=$(BUILD)/%.o)
FN_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard fn/*.c))
FN_LIB_OBJS := $(filter-out $(BUILD)/fn/main.o,$(FN_OBJS))
OCI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard oci/*.c))
OCI_LIB_OBJS := $(filter-out $(BUILD)/oci/main.o,$(OCI_OBJS))
SECCOMPILER_OBJS := $(BUILD)/jailer/seccompiler.o
JAILER_OBJS := $(patsubst %.c,$(BUILD)/%.o,jailer/args.c jailer/cgroup.c jailer/jail.c jailer/libs.c jailer/privs.c)
# ember's built-in seccomp filters, compiled from JSON at build time.
SECCOMP_JSON := jailer/seccomp-x86_64.json
SECCOMP_GEN := $(BUILD)/gen/seccomp_default.o
ALL_OBJS := $(LIB_OBJS) $(BUILD)/api/main.o $(BUILD)/api/invoke_main.o $(UNIT_OBJS) $(KVM_OBJS) \
	$(SECCOMPILER_OBJS) $(BUILD)/jailer/seccompiler_main.o $(BUILD)/tests/seccomp_forbidden.o \
	$(JAILER_OBJS) $(BUILD)/jailer/main.o $(BUILD)/snapshot/editor_main.o \
	$(BUILD)/snapshot/uffd_handler.o $(FN_OBJS) $(OCI_OBJS)

EMBER := $(BUILD)/ember
INVOKE := $(BUILD)/ember-invoke
SECCOMPILER := $(BUILD)/ember-seccompiler
JAILER := $(BUILD)/ember-jailer
EDITOR := $(BUILD)/ember-snapshot-editor
UFFD := $(BUILD)/ember-uffd
FN := $(BUILD)/ember-fn
OCI := $(BUILD)/ember-oci
LIBEMBER := $(BUILD)/libember.a
INIT := $(BUILD)/rootfs/ember-init
GUEST_TOOLS := $(BUILD)/rootfs/ember-blkbench $(BUILD)/rootfs/ember-vsock $(BUILD)/rootfs/ember-sockbench \
	$(BUILD)/rootfs/ember-agent
UNIT_BIN := $(BUILD)/tests/unit-tests
KVM_BIN := $(BUILD)/tests/kvm-tests
GUEST := $(BUILD)/guest

.PHONY: all deps guest testhost test test-build unit unit-asan unit-asan-bin kvm-test fuzz fuzz-smoke run bench compat asan format lint clean help

# make test builds with every CPU (CI has two); the tests themselves run one
# phase after another, so a timing inside one is never squeezed by another.
NPROC := $(shell nproc 2>/dev/null || echo 2)
.DEFAULT_GOAL := all

all: $(EMBER) $(INVOKE) $(SECCOMPILER) $(JAILER) $(EDITOR) $(UFFD) $(FN) $(OCI) $(INIT)

help:
	@echo "make deps      install the Debian packages ember needs (apt-get)"
	@echo "make           build $(EMBER)"
	@echo "make guest     build the guest kernel, initramfs and ext4 root (cached)"
	@echo "make run       deps + build + guest, then boot the demo VM"
	@echo "make test      unit, KVM and end-to-end tests"
	@echo "make bench     the cold-start benchmark suite: perf/results/latest.{md,png}"
	@echo "make compat    users' guests (Firecracker's kernel config, Debian's cloud kernel,"
	@echo "               systemd) under ember and QEMU microvm: build/compat/report.txt"
	@echo "make asan      build with address and undefined-behaviour sanitizers"
	@echo "make unit-asan the unit tests under those sanitizers (part of make test)"
	@echo "make fuzz      run the libFuzzer targets (FUZZ_TIME seconds)"
	@echo "make format    clang-format the sources; make lint checks them"

$(BUILD)/vmm/mmds_net.o: CPPFLAGS += $(LWIP_CPPFLAGS)

$(BUILD)/%.o: %.c
	$(call say,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SANITIZE) -c -o $@ $<

$(LIBEMBER): $(LIB_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# Dynamically linked: Debian packages lwIP (MMDS's TCP/IP) as a shared
# library only. ember-jailer copies the loader and the libraries into the
# jail; the loader costs about 0.2 ms of ember's start (perf/api).
$(EMBER): $(BUILD)/api/main.o $(SECCOMP_GEN) $(LIBEMBER)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS)

# The test build: ember whose thread named in EMBER_TEST_FORBIDDEN makes a forbidden syscall.
FORBIDDEN := $(BUILD)/tests/ember-forbidden
$(BUILD)/tests/seccomp_forbidden.o: vmm/seccomp_filter.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SANITIZE) -DEMBER_TEST_FORBIDDEN -c -o $@ $<

$(FORBIDDEN): $(BUILD)/api/main.o $(BUILD)/tests/seccomp_forbidden.o $(SECCOMP_GEN) $(LIBEMBER)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS)

$(SECCOMPILER): $(BUILD)/jailer/seccompiler_main.o $(SECCOMPILER_OBJS) $(LIBEMBER)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ -lseccomp $(LDLIBS)

$(UFFD): $(BUILD)/snapshot/uffd_handler.o $(LIBEMBER)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ -ljansson -lpthread

$(FN): $(FN_OBJS) $(LIBEMBER)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS)

# ember-oci's netlink (tc, links, addresses, routes): libnl-route-3.
NL_CFLAGS = $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null)
NL_LIBS = $(shell pkg-config --libs libnl-route-3.0 2>/dev/null)
$(BUILD)/oci/net.o: CPPFLAGS += $(NL_CFLAGS)

$(OCI): $(OCI_OBJS) $(LIBEMBER)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(NL_LIBS) $(LDLIBS)

$(EDITOR): $(BUILD)/snapshot/editor_main.o $(LIBEMBER)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS)

$(JAILER): $(BUILD)/jailer/main.o $(JAILER_OBJS) $(BUILD)/vmm/err.o
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ -lcap

$(BUILD)/gen/seccomp_default.c: $(SECCOMP_JSON) $(SECCOMPILER)
	$(call say,GEN,$@)
	@mkdir -p $(@D)
	$(Q)$(SECCOMPILER) --c-array seccomp_default_filter -o $@ $(SECCOMP_JSON)

$(SECCOMP_GEN): $(BUILD)/gen/seccomp_default.c
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -c -o $@ $<

$(INVOKE): $(BUILD)/api/invoke_main.o $(LIBEMBER)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS)

# The guest's PID 1: static, no ember library code.
$(INIT): rootfs/init.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 $(WARN) -static -o $@ $<

# The guest agent: functions, and containers (static jansson and libcap).
AGENT_SRCS := rootfs/agent.c rootfs/ctr_setup.c rootfs/ctr_run.c rootfs/fn_image.c rootfs/fn_http.c
$(BUILD)/rootfs/ember-agent: $(AGENT_SRCS) rootfs/io.h rootfs/ctr.h rootfs/ctr_proto.h rootfs/fn_image.h rootfs/fn_http.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 $(WARN) -static -o $@ $(AGENT_SRCS) -ljansson -lcap

# Guest-side tools for benchmarks, in the guest's /bin.
$(BUILD)/rootfs/ember-%: rootfs/%.c rootfs/io.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 $(WARN) -static -o $@ $<

# Jailed by tests/e2e/jailer.sh in ember's place: reports what it can reach.
$(BUILD)/tests/jail-probe: tests/jail_probe.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 $(WARN) -static -o $@ $<

$(UNIT_BIN): $(UNIT_OBJS) $(SECCOMPILER_OBJS) $(JAILER_OBJS) $(FN_LIB_OBJS) $(OCI_LIB_OBJS) $(SECCOMP_GEN) $(LIBEMBER) | $(INVOKE)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ -lcriterion -lseccomp -lcap $(NL_LIBS) $(LDLIBS)

$(KVM_BIN): $(KVM_OBJS) $(LIBEMBER)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ -lcriterion $(LDLIBS)

deps:
	$(Q)missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q $$missing; \
	elif ! apt-cache policy linux-image-amd64 2>/dev/null | grep -q 'Candidate: [0-9]'; then \
		$$sudo apt-get update -q; \
	else \
		echo "deps: all $(words $(DEB_PKGS)) packages present"; \
	fi

guest: $(INIT) $(GUEST_TOOLS)
	$(Q)rootfs/build-kernel.sh $(GUEST)
	$(Q)rootfs/build-rootfs.sh $(GUEST) $(INIT) $(GUEST_TOOLS)

testhost:
	$(Q)tests/testhost/prepare >/dev/null

unit: $(UNIT_BIN)
	$(Q)$(UNIT_BIN) --jobs 2

kvm-test: $(EMBER) $(INVOKE) $(JAILER) $(SECCOMPILER) $(UFFD) $(EDITOR) $(FN) $(OCI) $(FORBIDDEN) $(BUILD)/tests/jail-probe $(KVM_BIN) guest testhost
	$(Q)EMBER_DISTRO_KERNEL=$$(tests/testhost/prepare)/vmlinuz EMBER_OCI_DEBIAN=$$(tests/images/debian-minbase) \
		EMBER_FN_PYTHON=$$(tests/images/fn-lang python) EMBER_FN_NODE=$$(tests/images/fn-lang node) \
		tests/with-kvm --timeout 5400 tests/kvm-suite

test:
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) test-build
	$(Q)$(MAKE) --no-print-directory unit unit-asan fuzz-smoke kvm-test

# Everything make test runs, built first and in parallel.
test-build: all $(UNIT_BIN) $(KVM_BIN) $(FORBIDDEN) $(BUILD)/tests/jail-probe $(FUZZ_BINS) unit-asan-bin

# libFuzzer targets, built with clang and the sanitizers; FUZZ_TIME seconds each.
FUZZ_TIME ?= 120
FUZZ_CC = clang -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) -Wno-missing-prototypes \
	-Wno-gnu-variable-sized-type-not-at-end $(CPPFLAGS) $(LWIP_CPPFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS := virtq balloon http api snapshot oci fn_http mmds mmds_net pmem mem kvm_stats
FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_virtq_SRCS := tests/fuzz/fuzz_virtq.c virtio/queue.c virtio/blk.c virtio/mmio.c \
	vmm/guest_mem.c vmm/err.c vmm/log.c vmm/ratelimit.c vmm/state.c
FUZZ_virtq_WHAT := the virtqueue and block request parsers
FUZZ_balloon_SRCS := tests/fuzz/fuzz_balloon.c virtio/balloon.c virtio/queue.c virtio/mmio.c \
	vmm/guest_mem.c vmm/err.c vmm/log.c vmm/state.c
FUZZ_balloon_WHAT := the balloon's inflate lists, statistics, hinted and reported ranges
FUZZ_http_SRCS := tests/fuzz/fuzz_http.c vmm/http.c fn/http_fn.c vmm/err.c
FUZZ_http_WHAT := the HTTP request parser (the API's, and ember-fn serve's)
FUZZ_api_SRCS := tests/fuzz/fuzz_api.c $(LIB_SRCS)
FUZZ_api_WHAT := the API's routes and request bodies
FUZZ_snapshot_SRCS := tests/fuzz/fuzz_snapshot.c $(LIB_SRCS)
FUZZ_snapshot_WHAT := the snapshot state-file loader
FUZZ_oci_SRCS := tests/fuzz/fuzz_oci.c oci/spec.c oci/guest.c oci/cli.c oci/stream.c oci/tty.c \
	api/agent_client.c api/ember_proc.c fn/image.c fn/store.c vmm/err.c
FUZZ_oci_WHAT := ember-oci's config.json, guest-frame and command-line parsers, ember-fn's image config
FUZZ_fn_http_SRCS := tests/fuzz/fuzz_fn_http.c fn/http_fn.c vmm/err.c
FUZZ_fn_http_WHAT := the answers of HTTP functions' servers (ember-fn)
FUZZ_mmds_SRCS := tests/fuzz/fuzz_mmds.c vmm/mmds.c vmm/mmds_guest.c vmm/err.c
FUZZ_mmds_WHAT := MMDS's merge patches and the guest's requests and tokens
FUZZ_mmds_net_SRCS := tests/fuzz/fuzz_mmds_net.c vmm/mmds_net.c vmm/mmds.c vmm/mmds_guest.c \
	vmm/http.c vmm/err.c vmm/log.c
FUZZ_mmds_net_WHAT := the frames a guest sends MMDS: ARP, IPv4, TCP (lwIP) and HTTP
FUZZ_pmem_SRCS := tests/fuzz/fuzz_pmem.c virtio/pmem.c virtio/queue.c virtio/mmio.c \
	vmm/guest_mem.c vmm/err.c vmm/log.c vmm/ratelimit.c vmm/state.c
FUZZ_pmem_WHAT := virtio-pmem's flush requests
FUZZ_mem_SRCS := tests/fuzz/fuzz_mem.c virtio/mem.c virtio/queue.c virtio/mmio.c \
	vmm/guest_mem.c vmm/err.c vmm/log.c vmm/state.c
FUZZ_mem_WHAT := virtio-mem's plug, unplug and state requests
FUZZ_kvm_stats_SRCS := tests/fuzz/fuzz_kvm_stats.c vmm/kvm_stats.c vmm/err.c
FUZZ_kvm_stats_WHAT := the descriptor tables of KVM's binary statistics

.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: $$(FUZZ_$$*_SRCS) $(wildcard tests/fuzz/*.h virtio/*.h vmm/*.h vmm/resources/*.h api/*.h snapshot/*.h oci/*.h fn/*.h)
	$(call say,FUZZ,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -o $@ $(FUZZ_$*_SRCS) $(LDLIBS)

fuzz: $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$t; \
		$(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/$$t- $(BUILD)/fuzz/corpus-$$t \
			$$(ls -d tests/fuzz/seeds/$$t 2>/dev/null) || exit 1; \
	done

# A short run of each in `make test`; a crash fails the build and shows the report.
# Each target for 10 s, as many at once as there are CPUs (each is one
# process on one CPU).
fuzz-smoke: $(FUZZ_BINS)
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) $(FUZZ_TARGETS:%=fuzz-smoke-%)

fuzz-smoke-%: $(BUILD)/fuzz/fuzz_%
	$(Q)mkdir -p $(BUILD)/fuzz/corpus-$* && \
	if $< -max_total_time=10 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$*- \
		$(BUILD)/fuzz/corpus-$* $(wildcard tests/fuzz/seeds/$*) >$(BUILD)/fuzz/smoke-$*.log 2>&1; then \
		echo "fuzz: $$(grep -o 'Done [0-9]* runs' $(BUILD)/fuzz/smoke-$*.log) of $(FUZZ_$*_WHAT), no crash"; \
	else tail -40 $(BUILD)/fuzz/smoke-$*.log; echo "fuzz: FAILED (see $(BUILD)/fuzz/)"; exit 1; fi

run: deps
	$(Q)$(MAKE) --no-print-directory all guest
	$(Q)tests/with-kvm --say tests/demo

# 50 clones of 128 MiB VMs alive at once: a test host with room for them.
bench: all guest testhost
	$(Q)EMBER_TESTHOST_MEM=6144 EMBER_FN_PYTHON=$$(tests/images/fn-lang python) \
		EMBER_FN_NODE=$$(tests/images/fn-lang node) tests/with-kvm --say --timeout 5400 perf/bench

# Guests ember's project did not build, booted under ember and QEMU's microvm
# side by side (needs root for debootstrap; not part of make test: see README).
compat: all testhost
	$(Q)tests/compat/build $(BUILD)/compat
	$(Q)tests/with-kvm --say --timeout 5400 tests/compat/boot $(BUILD)/compat

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SANITIZE="$(ASAN_FLAGS)" all

# The unit tests again under ASan and UBSan: a memory error fails them.
unit-asan: unit-asan-bin
	$(Q)build-asan/tests/unit-tests --jobs 2

unit-asan-bin:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SANITIZE="$(ASAN_FLAGS)" \
		build-asan/tests/unit-tests

FORMAT_SRCS = $(wildcard vmm/*.[ch] vmm/resources/*.[ch] virtio/*.[ch] api/*.[ch] jailer/*.[ch] snapshot/*.[ch] fn/*.[ch] oci/*.[ch] perf/*.c rootfs/*.[ch] tests/unit/*.[ch] tests/kvm/*.[ch] tests/fuzz/*.[ch] tests/testhost/*.c tests/*.c)

format:
	$(Q)clang-format -i $(FORMAT_SRCS)

lint:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD) build-asan

-include $(ALL_OBJS:.o=.d)
