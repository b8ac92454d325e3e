// SPDX-License-Identifier: Apache-2.0
/* Kernel loading: ELF and bzImage headers, hostile files, boot structures. */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "acpi.h"
#include "layout.h"

#define MEM_SIZE (32ULL << 20)
#define KADDR    0x1000000ULL

static struct guest_mem mem;
static struct ember_err err;

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	cr_assert_eq(guest_mem_init(&mem, MEM_SIZE, GUEST_MEM_4K, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
	guest_mem_free(&mem);
}

TestSuite(boot, .init = setup, .fini = teardown);

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("kernel", 0);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	return fd;
}

/* A minimal vmlinux: one PT_LOAD of 4 KiB + 4 KiB bss, optional PVH note. */
struct fake_elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	Elf64_Nhdr nh;
	char name[4];
	uint32_t desc[2];
	uint8_t code[4096];
};

static void make_elf(struct fake_elf *f, bool pvh)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->eh.e_ident, ELFMAG, SELFMAG);
	f->eh.e_ident[EI_CLASS] = ELFCLASS64;
	f->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	f->eh.e_machine = EM_X86_64;
	f->eh.e_entry = KADDR;
	f->eh.e_phoff = offsetof(struct fake_elf, ph);
	f->eh.e_phentsize = sizeof(Elf64_Phdr);
	f->eh.e_phnum = pvh ? 2 : 1;
	f->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
				 .p_offset = offsetof(struct fake_elf, code),
				 .p_paddr = KADDR,
				 .p_filesz = 4096,
				 .p_memsz = 8192 };
	f->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE,
				 .p_offset = offsetof(struct fake_elf, nh),
				 .p_filesz = sizeof(Elf64_Nhdr) + 4 + 8 };
	f->nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 8, .n_type = 18 };
	memcpy(f->name, "Xen", 4);
	f->desc[0] = KADDR + 0x680;
	memset(f->code, 0xcc, sizeof(f->code));
}

static int load(const void *data, size_t len, struct boot_image *img)
{
	int fd = memfd_with(data, len), ret;

	ret = boot_load_kernel(&mem, fd, img, &err);
	close(fd);
	return ret;
}

static void expect_error(const void *data, size_t len, const char *needle)
{
	struct boot_image img;

	cr_assert_lt(load(data, len, &img), 0, "hostile image accepted");
	cr_assert(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

Test(boot, elf_with_pvh_note)
{
	struct fake_elf f;
	struct boot_image img;
	uint8_t *p;

	make_elf(&f, true);
	cr_assert_eq(load(&f, sizeof(f), &img), 0, "%s", err.msg);
	cr_assert_eq(img.proto, BOOT_PVH);
	cr_assert_eq(img.entry, KADDR + 0x680);
	cr_assert_eq(img.kernel_end, KADDR + 8192);
	p = guest_mem_ptr(&mem, KADDR, 8192);
	cr_assert_eq(p[0], 0xcc);
	cr_assert_eq(p[4095], 0xcc);
	cr_assert_eq(p[4096], 0, "bss must be zeroed");
}

Test(boot, elf_without_note_uses_64bit_protocol)
{
	struct fake_elf f;
	struct boot_image img;

	make_elf(&f, false);
	cr_assert_eq(load(&f, sizeof(f), &img), 0, "%s", err.msg);
	cr_assert_eq(img.proto, BOOT_LINUX64);
	cr_assert_eq(img.entry, KADDR);
}

Test(boot, elf_truncated_header)
{
	struct fake_elf f;

	make_elf(&f, true);
	expect_error(&f, 40, "truncated");
}

Test(boot, elf_phdrs_outside_file)
{
	struct fake_elf f;

	make_elf(&f, true);
	f.eh.e_phoff = 1 << 30;
	expect_error(&f, sizeof(f), "program headers lie outside");
}

Test(boot, elf_phoff_overflow)
{
	struct fake_elf f;

	make_elf(&f, true);
	f.eh.e_phoff = UINT64_MAX - 8;
	expect_error(&f, sizeof(f), "program headers lie outside");
}

Test(boot, elf_too_many_phdrs)
{
	struct fake_elf f;

	make_elf(&f, true);
	f.eh.e_phnum = 1000;
	expect_error(&f, sizeof(f), "bad program header table");
}

Test(boot, elf_segment_outside_file)
{
	struct fake_elf f;

	make_elf(&f, false);
	f.ph[0].p_offset = UINT64_MAX - 100;
	expect_error(&f, sizeof(f), "segment lies outside the file");
}

Test(boot, elf_filesz_larger_than_memsz)
{
	struct fake_elf f;

	make_elf(&f, false);
	f.ph[0].p_memsz = 16;
	expect_error(&f, sizeof(f), "larger in the file than in memory");
}

Test(boot, elf_segment_below_1mib)
{
	struct fake_elf f;

	make_elf(&f, false);
	f.ph[0].p_paddr = 0x7000;
	expect_error(&f, sizeof(f), "below 1 MiB");
}

Test(boot, elf_segment_beyond_memory)
{
	struct fake_elf f;

	make_elf(&f, false);
	f.ph[0].p_paddr = MEM_SIZE - 4096;
	expect_error(&f, sizeof(f), "does not fit");
}

Test(boot, elf_wrapping_segment_address)
{
	struct fake_elf f;

	make_elf(&f, false);
	f.ph[0].p_paddr = UINT64_MAX - 1000;
	expect_error(&f, sizeof(f), "does not fit");
}

Test(boot, elf_wrong_machine)
{
	struct fake_elf f;

	make_elf(&f, false);
	f.eh.e_machine = EM_AARCH64;
	expect_error(&f, sizeof(f), "not for x86_64");
}

Test(boot, elf_entry_outside_kernel)
{
	struct fake_elf f;

	make_elf(&f, false);
	f.eh.e_entry = 0x5000;
	expect_error(&f, sizeof(f), "entry point");
}

Test(boot, elf_hostile_note_sizes_are_ignored)
{
	struct fake_elf f;
	struct boot_image img;

	make_elf(&f, true);
	f.nh.n_namesz = 0xfffffff0;
	f.nh.n_descsz = 0xfffffff0;
	cr_assert_eq(load(&f, sizeof(f), &img), 0, "%s", err.msg);
	cr_assert_eq(img.proto, BOOT_LINUX64);
}

/* A bzImage: 4 setup sectors + boot sector, then a 64 KiB payload. */
static uint8_t *make_bzimage(size_t *len)
{
	size_t setup = 5 * 512, payload = 65536;
	uint8_t *b = calloc(1, setup + payload);
	struct setup_header *h = (struct setup_header *)(b + 0x1f1);

	h->setup_sects = 4;
	h->boot_flag = 0xaa55;
	h->header = 0x53726448;
	h->version = 0x020f;
	h->xloadflags = XLF_KERNEL_64;
	h->init_size = 1 << 20;
	h->initrd_addr_max = 0x7fffffff;
	memset(b + setup, 0x90, payload);
	*len = setup + payload;
	return b;
}

Test(boot, bzimage_loads_at_1mib_with_64bit_entry)
{
	struct boot_image img;
	size_t len;
	uint8_t *b = make_bzimage(&len), *p;

	cr_assert_eq(load(b, len, &img), 0, "%s", err.msg);
	cr_assert_eq(img.format, BOOT_FMT_BZIMAGE);
	cr_assert_eq(img.proto, BOOT_LINUX64);
	cr_assert_eq(img.entry, LAYOUT_HIMEM + 0x200);
	cr_assert_eq(img.kernel_end, LAYOUT_HIMEM + (1 << 20));
	p = guest_mem_ptr(&mem, LAYOUT_HIMEM, 65536);
	cr_assert_eq(p[0], 0x90);
	free(b);
}

#define BZ_BAD(name, mutate, needle)                          \
	Test(boot, name)                                      \
	{                                                     \
		size_t len;                                   \
		uint8_t *b = make_bzimage(&len);              \
		struct setup_header *h = (void *)(b + 0x1f1); \
		(void)h;                                      \
		mutate;                                       \
		expect_error(b, len, needle);                 \
		free(b);                                      \
	}

BZ_BAD(bzimage_bad_magic, h->header = 0x12345678, "not a kernel image")
BZ_BAD(bzimage_bad_boot_flag, h->boot_flag = 0, "not a kernel image")
BZ_BAD(bzimage_old_protocol, h->version = 0x0204, "too old")
BZ_BAD(bzimage_no_64bit_entry, h->xloadflags = 0, "no 64-bit entry")
BZ_BAD(bzimage_setup_beyond_file, h->setup_sects = 255, "truncated")
BZ_BAD(bzimage_init_size_too_big, h->init_size = 0xfffffff0, "needs")
BZ_BAD(bzimage_truncated, len = 3000, "not a kernel image (too small")

Test(boot, garbage_and_empty_files)
{
	uint8_t junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	expect_error(junk, sizeof(junk), "not a kernel image");
	expect_error(junk, 0, "not a kernel image");
	expect_error("\x7f"
		     "ELF",
		     4, "truncated");
}

Test(boot, e820_low_memory)
{
	struct boot_e820 map[BOOT_E820_MAX];
	int n = boot_e820_build(&mem, map, BOOT_E820_MAX);

	cr_assert_eq(n, 5);
	cr_assert_eq(map[0].addr, 0);
	cr_assert_eq(map[0].size, LAYOUT_EBDA);
	cr_assert_eq(map[0].type, 1);
	cr_assert_eq(map[1].type, 2, "the MP table");
	cr_assert_eq(map[2].addr, ACPI_TABLES_GPA);
	cr_assert_eq(map[2].addr + map[2].size, ACPI_RSDP_GPA);
	cr_assert_eq(map[2].type, 3, "ACPI tables, reclaimable");
	cr_assert_eq(map[3].addr, ACPI_RSDP_GPA);
	cr_assert_eq(map[3].addr + map[3].size, LAYOUT_HIMEM);
	cr_assert_eq(map[3].type, 2, "the RSDP and the BIOS area");
	cr_assert_eq(map[4].addr, LAYOUT_HIMEM);
	cr_assert_eq(map[4].size, MEM_SIZE - LAYOUT_HIMEM);
}

Test(boot, e820_above_4g)
{
	struct boot_e820 map[BOOT_E820_MAX];
	struct guest_mem big;
	int n;

	cr_assert_eq(guest_mem_init(&big, 4ULL << 30, GUEST_MEM_4K, &err), 0);
	n = boot_e820_build(&big, map, BOOT_E820_MAX);
	cr_assert_eq(n, 6);
	cr_assert_eq(map[4].addr + map[4].size, LAYOUT_MMIO_START);
	cr_assert_eq(map[5].addr, LAYOUT_MMIO_END);
	cr_assert_eq(map[5].size, (4ULL << 30) - LAYOUT_MMIO_START);
	guest_mem_free(&big);
}

Test(boot, zero_page_for_bzimage)
{
	struct boot_image img;
	struct boot_params *bp;
	size_t len;
	uint8_t *b = make_bzimage(&len);

	cr_assert_eq(load(b, len, &img), 0, "%s", err.msg);
	cr_assert_eq(boot_write_cmdline(&mem, "console=ttyS0", &err), 0);
	cr_assert_eq(boot_write_params(&mem, &img, 14,
				       &(struct boot_extra){ 0x1800000, 0x1000, ACPI_RSDP_GPA },
				       &err),
		     0, "%s", err.msg);
	bp = guest_mem_ptr(&mem, LAYOUT_ZERO_PAGE, sizeof(*bp));
	cr_assert_eq(bp->hdr.boot_flag, 0xaa55);
	cr_assert_eq(bp->hdr.header, 0x53726448);
	cr_assert_eq(bp->hdr.type_of_loader, 0xff);
	cr_assert_eq(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	cr_assert_eq(bp->hdr.cmdline_size, 14);
	cr_assert_eq(bp->hdr.ramdisk_image, 0x1800000);
	cr_assert_eq(bp->hdr.ramdisk_size, 0x1000);
	cr_assert_eq(bp->hdr.version, 0x020f, "setup header copied from the image");
	cr_assert_eq(bp->e820_entries, 5);
	cr_assert_eq(bp->acpi_rsdp_addr, ACPI_RSDP_GPA, "boot protocol 2.14's RSDP pointer");
	cr_assert_str_eq((char *)guest_mem_ptr(&mem, LAYOUT_CMDLINE, 14), "console=ttyS0");
	free(b);
}

Test(boot, pvh_start_info)
{
	struct fake_elf f;
	struct boot_image img;
	const uint32_t *si;
	const uint64_t *mod;

	make_elf(&f, true);
	cr_assert_eq(load(&f, sizeof(f), &img), 0);
	cr_assert_eq(boot_write_params(&mem, &img, 1,
				       &(struct boot_extra){ 0x1800000, 0x2000, ACPI_RSDP_GPA },
				       &err),
		     0, "%s", err.msg);
	si = guest_mem_ptr(&mem, LAYOUT_PVH_INFO, 56);
	cr_assert_eq(si[0], 0x336ec578u, "magic");
	cr_assert_eq(si[1], 1, "version");
	cr_assert_eq(si[3], 1, "one module: the initrd");
	mod = guest_mem_ptr(&mem, LAYOUT_PVH_MODLIST, 16);
	cr_assert_eq(mod[0], 0x1800000);
	cr_assert_eq(mod[1], 0x2000);
	cr_assert_eq(si[12], 5, "memmap entries");
	cr_assert_eq(*(const uint64_t *)(si + 8), ACPI_RSDP_GPA, "rsdp_paddr");
}

Test(boot, cmdline_limit)
{
	char big[LAYOUT_CMDLINE_MAX + 1];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_lt(boot_write_cmdline(&mem, big, &err), 0);
	cr_assert(strstr(err.msg, "limit"));
	big[LAYOUT_CMDLINE_MAX - 1] = '\0';
	cr_assert_eq(boot_write_cmdline(&mem, big, &err), 0);
}

Test(boot, initrd_at_top_of_memory)
{
	struct fake_elf f;
	struct boot_image img;
	uint8_t data[10000];
	uint64_t gpa, size;
	int fd;

	make_elf(&f, true);
	cr_assert_eq(load(&f, sizeof(f), &img), 0);
	memset(data, 0x5a, sizeof(data));
	fd = memfd_with(data, sizeof(data));
	cr_assert_eq(boot_load_initrd(&mem, fd, &img, &gpa, &size, &err), 0, "%s", err.msg);
	close(fd);
	cr_assert_eq(size, sizeof(data));
	cr_assert_eq(gpa % 4096, 0);
	cr_assert_leq(gpa + size, MEM_SIZE);
	cr_assert_gt(gpa + size, MEM_SIZE - 4096);
	cr_assert_eq(*(uint8_t *)guest_mem_ptr(&mem, gpa, 1), 0x5a);
}

Test(boot, initrd_too_big)
{
	struct fake_elf f;
	struct boot_image img;
	uint64_t gpa, size;
	int fd = memfd_create("initrd", 0);

	make_elf(&f, true);
	cr_assert_eq(load(&f, sizeof(f), &img), 0);
	cr_assert_eq(ftruncate(fd, MEM_SIZE - 8 * 4096), 0);
	cr_assert_lt(boot_load_initrd(&mem, fd, &img, &gpa, &size, &err), 0);
	cr_assert(strstr(err.msg, "does not fit"), "%s", err.msg);
	close(fd);
}
