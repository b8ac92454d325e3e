/* SPDX-License-Identifier: Apache-2.0 */
/* Direct kernel boot: ELF vmlinux (PVH or 64-bit protocol) and bzImage. */
#ifndef EMBER_BOOT_H
#define EMBER_BOOT_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "guest_mem.h"

enum boot_protocol {
	BOOT_PVH,     /* 32-bit protected mode, EBX = hvm_start_info */
	BOOT_LINUX64, /* 64-bit long mode, RSI = zero page */
};

enum boot_format { BOOT_FMT_ELF, BOOT_FMT_BZIMAGE };

struct boot_image {
	enum boot_format format;
	enum boot_protocol proto;
	uint64_t entry;
	uint64_t kernel_start;
	uint64_t kernel_end; /* first byte past the loaded kernel */
	uint64_t initrd_addr_max;
	bool has_setup_header;
	struct setup_header hdr; /* bzImage's, copied into the zero page */
};

#define BOOT_E820_MAX 8
struct boot_e820 {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* E820_TYPE_RAM, _RESERVED, _ACPI */
};

/* Load a kernel image from fd into guest memory, detecting its format. */
int boot_load_kernel(const struct guest_mem *mem, int fd, struct boot_image *img,
		     struct ember_err *err);
/* Place the initrd at the top of low memory, under the kernel's limit. */
int boot_load_initrd(const struct guest_mem *mem, int fd, const struct boot_image *img,
		     uint64_t *gpa, uint64_t *size, struct ember_err *err);
int boot_e820_build(const struct guest_mem *mem, struct boot_e820 *out, int max);
int boot_write_cmdline(const struct guest_mem *mem, const char *cmdline, struct ember_err *err);
/* What the boot parameters point at besides the kernel. */
struct boot_extra {
	uint64_t initrd_gpa, initrd_size; /* size 0: none */
	uint64_t rsdp_gpa;                /* 0: no ACPI tables */
};

/* Zero page (Linux 64-bit protocol) or hvm_start_info (PVH). */
int boot_write_params(const struct guest_mem *mem, const struct boot_image *img, size_t cmdline_len,
		      const struct boot_extra *x, struct ember_err *err);

#endif
