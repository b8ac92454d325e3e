// SPDX-License-Identifier: Apache-2.0
/* Kernel loading: ELF program headers, PVH note, bzImage setup header. */
#include "boot.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acpi.h"
#include "layout.h"

#define E820_RAM                 1
#define E820_RESERVED            2
#define E820_ACPI                3 /* ACPI tables: reclaimable once read */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define ELF_MAX_PHDRS            64
#define ELF_MAX_NOTES            (64 * 1024)
#define BZ_HDR_OFFSET            0x1f1
#define BZ_MAGIC                 0x53726448u /* "HdrS" */
#define BZ_MIN_VERSION           0x020c      /* 2.12: xloadflags */
#define BZ_64BIT_ENTRY           0x200
#define HVM_START_MAGIC          0x336ec578u

/* PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h). */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

static int read_at(int fd, uint64_t off, void *buf, size_t len, const char *what,
		   struct ember_err *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(err, "reading %s", what);
		if (n == 0)
			return err_set(err, EINVAL, "%s is truncated", what);
		done += (size_t)n;
	}
	return 0;
}

static int file_size(int fd, uint64_t *size, struct ember_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_errno(err, "fstat");
	if (!S_ISREG(st.st_mode))
		return err_set(err, EINVAL, "not a regular file");
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Copy [off, off+filesz) of fd to gpa and zero up to memsz. */
static int load_segment(const struct guest_mem *mem, int fd, uint64_t off, uint64_t filesz,
			uint64_t gpa, uint64_t memsz, struct ember_err *err)
{
	uint8_t *dst = guest_mem_ptr(mem, gpa, memsz);

	if (!dst)
		return err_set(err, EINVAL,
			       "kernel segment 0x%" PRIx64 "+0x%" PRIx64 " does not fit in %" PRIu64
			       " MiB of guest memory",
			       gpa, memsz, mem->size >> 20);
	if (filesz && read_at(fd, off, dst, filesz, "kernel segment", err) < 0)
		return -err->code;
	memset(dst + filesz, 0, memsz - filesz);
	return 0;
}

static int check_ehdr(const Elf64_Ehdr *eh, uint64_t fsize, struct ember_err *err)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return err_set(err, EINVAL, "ELF kernel is not 64-bit little-endian");
	if (eh->e_machine != EM_X86_64)
		return err_set(err, EINVAL, "ELF kernel is not for x86_64 (e_machine %u)",
			       eh->e_machine);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_MAX_PHDRS)
		return err_set(err, EINVAL,
			       "ELF kernel has a bad program header table (%u x %u bytes)",
			       eh->e_phnum, eh->e_phentsize);
	if (eh->e_phoff > fsize || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > fsize - eh->e_phoff)
		return err_set(err, EINVAL, "ELF program headers lie outside the file");
	return 0;
}

/* Walk one PT_NOTE segment for Xen's PHYS32_ENTRY (the PVH entry point). */
static int find_pvh_note(int fd, const Elf64_Phdr *ph, uint64_t *entry, struct ember_err *err)
{
	uint8_t buf[ELF_MAX_NOTES];
	uint64_t len = ph->p_filesz < sizeof(buf) ? ph->p_filesz : sizeof(buf);
	uint64_t pos = 0;

	if (read_at(fd, ph->p_offset, buf, len, "ELF note", err) < 0)
		return -err->code;
	while (pos + sizeof(Elf64_Nhdr) <= len) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, next;

		memcpy(&nh, buf + pos, sizeof(nh));
		name_off = pos + sizeof(nh);
		desc_off = name_off + (((uint64_t)nh.n_namesz + 3) & ~3ULL);
		next = desc_off + (((uint64_t)nh.n_descsz + 3) & ~3ULL);
		if (next > len)
			break;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    !memcmp(buf + name_off, "Xen", 4) && nh.n_descsz >= 4) {
			uint32_t v;

			memcpy(&v, buf + desc_off, sizeof(v));
			*entry = v;
			return 1;
		}
		pos = next;
	}
	return 0;
}

static int check_phdr(const Elf64_Phdr *ph, uint64_t fsize, struct ember_err *err)
{
	if (ph->p_offset > fsize || ph->p_filesz > fsize - ph->p_offset)
		return err_set(err, EINVAL, "ELF segment lies outside the file");
	if (ph->p_type == PT_LOAD && ph->p_filesz > ph->p_memsz)
		return err_set(err, EINVAL, "ELF segment is larger in the file than in memory");
	if (ph->p_type == PT_LOAD && ph->p_paddr < LAYOUT_HIMEM)
		return err_set(err, EINVAL,
			       "ELF segment at 0x%" PRIx64 " overlaps the boot area below 1 MiB",
			       ph->p_paddr);
	return 0;
}

static int load_elf(const struct guest_mem *mem, int fd, uint64_t fsize, struct boot_image *img,
		    struct ember_err *err)
{
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	Elf64_Ehdr eh;
	uint64_t pvh = 0;
	int found = 0;

	if (read_at(fd, 0, &eh, sizeof(eh), "ELF header", err) < 0 ||
	    check_ehdr(&eh, fsize, err) < 0 ||
	    read_at(fd, eh.e_phoff, ph, eh.e_phnum * sizeof(Elf64_Phdr), "ELF program headers",
		    err) < 0)
		return -err->code;
	img->kernel_start = UINT64_MAX;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (check_phdr(&ph[i], fsize, err) < 0)
			return -err->code;
		if (ph[i].p_type == PT_NOTE && !found)
			found = find_pvh_note(fd, &ph[i], &pvh, err);
		if (found < 0)
			return found;
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (load_segment(mem, fd, ph[i].p_offset, ph[i].p_filesz, ph[i].p_paddr,
				 ph[i].p_memsz, err) < 0)
			return -err->code;
		if (ph[i].p_paddr < img->kernel_start)
			img->kernel_start = ph[i].p_paddr;
		if (ph[i].p_paddr + ph[i].p_memsz > img->kernel_end)
			img->kernel_end = ph[i].p_paddr + ph[i].p_memsz;
	}
	if (img->kernel_end == 0)
		return err_set(err, EINVAL, "ELF kernel has no loadable segment");
	img->format = BOOT_FMT_ELF;
	img->proto = found ? BOOT_PVH : BOOT_LINUX64;
	img->entry = found ? pvh : eh.e_entry;
	img->initrd_addr_max = 0xffffffffULL;
	if (img->entry < img->kernel_start || img->entry >= img->kernel_end)
		return err_set(err, EINVAL, "ELF entry point 0x%" PRIx64 " is outside the kernel",
			       img->entry);
	return 0;
}

static int check_setup_header(const struct setup_header *h, uint64_t fsize, struct ember_err *err)
{
	if (h->boot_flag != 0xaa55 || h->header != BZ_MAGIC)
		return err_set(err, EINVAL, "not a kernel image (neither ELF nor bzImage)");
	if (h->version < BZ_MIN_VERSION)
		return err_set(err, EINVAL, "bzImage boot protocol %u.%u is too old (2.12 needed)",
			       h->version >> 8, h->version & 0xff);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return err_set(err, EINVAL, "bzImage has no 64-bit entry point");
	if (((uint64_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512 >= fsize)
		return err_set(err, EINVAL, "bzImage is truncated: no protected-mode kernel");
	return 0;
}

static int load_bzimage(const struct guest_mem *mem, int fd, uint64_t fsize, struct boot_image *img,
			struct ember_err *err)
{
	struct boot_params bp;
	uint64_t setup, payload, need;

	if (fsize < sizeof(bp))
		return err_set(err, EINVAL, "not a kernel image (too small: %" PRIu64 " bytes)",
			       fsize);
	if (read_at(fd, 0, &bp, sizeof(bp), "bzImage header", err) < 0 ||
	    check_setup_header(&bp.hdr, fsize, err) < 0)
		return -err->code;
	setup = ((uint64_t)(bp.hdr.setup_sects ? bp.hdr.setup_sects : 4) + 1) * 512;
	payload = fsize - setup;
	/* The decompressor needs init_size bytes from the load address. */
	need = bp.hdr.init_size > payload ? bp.hdr.init_size : payload;
	if (!guest_mem_ptr(mem, LAYOUT_HIMEM, need))
		return err_set(err, EINVAL,
			       "bzImage needs %" PRIu64 " MiB above 1 MiB, guest has %" PRIu64
			       " MiB",
			       need >> 20, mem->size >> 20);
	if (load_segment(mem, fd, setup, payload, LAYOUT_HIMEM, payload, err) < 0)
		return -err->code;
	img->format = BOOT_FMT_BZIMAGE;
	img->proto = BOOT_LINUX64;
	img->entry = LAYOUT_HIMEM + BZ_64BIT_ENTRY;
	img->kernel_start = LAYOUT_HIMEM;
	img->kernel_end = LAYOUT_HIMEM + need;
	img->initrd_addr_max = bp.hdr.initrd_addr_max;
	img->has_setup_header = true;
	img->hdr = bp.hdr;
	return 0;
}

int boot_load_kernel(const struct guest_mem *mem, int fd, struct boot_image *img,
		     struct ember_err *err)
{
	uint8_t magic[SELFMAG];
	uint64_t fsize;

	memset(img, 0, sizeof(*img));
	if (file_size(fd, &fsize, err) < 0)
		return -err->code;
	if (fsize < SELFMAG)
		return err_set(err, EINVAL, "not a kernel image (%" PRIu64 " bytes)", fsize);
	if (read_at(fd, 0, magic, sizeof(magic), "kernel image", err) < 0)
		return -err->code;
	if (!memcmp(magic, ELFMAG, SELFMAG))
		return load_elf(mem, fd, fsize, img, err);
	return load_bzimage(mem, fd, fsize, img, err);
}

int boot_load_initrd(const struct guest_mem *mem, int fd, const struct boot_image *img,
		     uint64_t *gpa, uint64_t *size, struct ember_err *err)
{
	uint64_t fsize, top = guest_mem_low_end(mem), addr;

	if (file_size(fd, &fsize, err) < 0)
		return -err->code;
	if (fsize == 0)
		return err_set(err, EINVAL, "initrd is empty");
	if (img->initrd_addr_max && top > img->initrd_addr_max + 1)
		top = img->initrd_addr_max + 1;
	if (fsize > top)
		return err_set(err, EINVAL,
			       "initrd of %" PRIu64 " MiB does not fit in guest memory",
			       fsize >> 20);
	addr = (top - fsize) & ~(LAYOUT_PAGE - 1);
	if (addr < img->kernel_end)
		return err_set(
		    err, EINVAL,
		    "initrd of %" PRIu64
		    " MiB does not fit between the kernel and the end of memory (%" PRIu64 " MiB)",
		    fsize >> 20, mem->size >> 20);
	if (load_segment(mem, fd, 0, fsize, addr, fsize, err) < 0)
		return err_prefix(err, "initrd");
	*gpa = addr;
	*size = fsize;
	return 0;
}

int boot_e820_build(const struct guest_mem *mem, struct boot_e820 *out, int max)
{
	uint64_t low_end = guest_mem_low_end(mem);
	int n = 0;

	if (max < 6 || low_end <= LAYOUT_HIMEM)
		return -EINVAL;
	out[n++] = (struct boot_e820){ 0, LAYOUT_EBDA, E820_RAM };
	out[n++] = (struct boot_e820){ LAYOUT_EBDA, ACPI_TABLES_GPA - LAYOUT_EBDA, E820_RESERVED };
	out[n++] =
	    (struct boot_e820){ ACPI_TABLES_GPA, ACPI_TABLES_END - ACPI_TABLES_GPA, E820_ACPI };
	out[n++] =
	    (struct boot_e820){ ACPI_TABLES_END, LAYOUT_HIMEM - ACPI_TABLES_END, E820_RESERVED };
	out[n++] = (struct boot_e820){ LAYOUT_HIMEM, low_end - LAYOUT_HIMEM, E820_RAM };
	if (mem->nr_regions > 1)
		out[n++] =
		    (struct boot_e820){ mem->regions[1].gpa, mem->regions[1].size, E820_RAM };
	return n;
}

int boot_write_cmdline(const struct guest_mem *mem, const char *cmdline, struct ember_err *err)
{
	size_t len = strlen(cmdline) + 1;

	if (len > LAYOUT_CMDLINE_MAX)
		return err_set(err, E2BIG, "kernel command line is %zu bytes, the limit is %d",
			       len - 1, LAYOUT_CMDLINE_MAX - 1);
	return guest_mem_write(mem, LAYOUT_CMDLINE, cmdline, len, err);
}

static int write_zero_page(const struct guest_mem *mem, const struct boot_image *img,
			   size_t cmdline_len, const struct boot_extra *x, struct ember_err *err)
{
	struct boot_e820 map[BOOT_E820_MAX];
	struct boot_params bp;
	int n = boot_e820_build(mem, map, BOOT_E820_MAX);

	if (n < 0)
		return err_set(err, EINVAL, "guest memory too small to boot");
	memset(&bp, 0, sizeof(bp));
	if (img->has_setup_header) {
		bp.hdr = img->hdr;
	} else {
		bp.hdr.boot_flag = 0xaa55;
		bp.hdr.header = BZ_MAGIC;
		bp.hdr.kernel_alignment = 0x1000000;
	}
	bp.hdr.type_of_loader = 0xff;
	bp.hdr.code32_start = (uint32_t)img->kernel_start;
	bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp.hdr.cmdline_size = (uint32_t)cmdline_len;
	bp.hdr.ramdisk_image = (uint32_t)x->initrd_gpa;
	bp.hdr.ramdisk_size = (uint32_t)x->initrd_size;
	bp.acpi_rsdp_addr = x->rsdp_gpa; /* boot protocol 2.14 */
	for (int i = 0; i < n; i++) {
		bp.e820_table[i].addr = map[i].addr;
		bp.e820_table[i].size = map[i].size;
		bp.e820_table[i].type = map[i].type;
	}
	bp.e820_entries = (uint8_t)n;
	return guest_mem_write(mem, LAYOUT_ZERO_PAGE, &bp, sizeof(bp), err);
}

static int write_pvh_info(const struct guest_mem *mem, const struct boot_extra *x,
			  struct ember_err *err)
{
	struct hvm_memmap_entry mm[BOOT_E820_MAX];
	struct boot_e820 map[BOOT_E820_MAX];
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.rsdp_paddr = x->rsdp_gpa,
		.memmap_paddr = LAYOUT_PVH_MEMMAP,
	};
	int n = boot_e820_build(mem, map, BOOT_E820_MAX);

	if (n < 0)
		return err_set(err, EINVAL, "guest memory too small to boot");
	for (int i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_entry){ map[i].addr, map[i].size, map[i].type, 0 };
	si.memmap_entries = (uint32_t)n;
	if (x->initrd_size) {
		struct hvm_modlist_entry mod = { .paddr = x->initrd_gpa, .size = x->initrd_size };

		si.nr_modules = 1;
		si.modlist_paddr = LAYOUT_PVH_MODLIST;
		if (guest_mem_write(mem, LAYOUT_PVH_MODLIST, &mod, sizeof(mod), err) < 0)
			return -err->code;
	}
	if (guest_mem_write(mem, LAYOUT_PVH_MEMMAP, mm, (uint64_t)n * sizeof(mm[0]), err) < 0)
		return -err->code;
	return guest_mem_write(mem, LAYOUT_PVH_INFO, &si, sizeof(si), err);
}

int boot_write_params(const struct guest_mem *mem, const struct boot_image *img, size_t cmdline_len,
		      const struct boot_extra *x, struct ember_err *err)
{
	if (img->proto == BOOT_PVH)
		return write_pvh_info(mem, x, err);
	return write_zero_page(mem, img, cmdline_len, x, err);
}
