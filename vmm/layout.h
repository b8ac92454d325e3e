/* SPDX-License-Identifier: Apache-2.0 */
/* x86_64 guest-physical layout (Firecracker's, see reference §8.2). */
#ifndef EMBER_LAYOUT_H
#define EMBER_LAYOUT_H

#define LAYOUT_GDT         0x500ULL
#define LAYOUT_IDT         0x520ULL
#define LAYOUT_PVH_INFO    0x6000ULL
#define LAYOUT_PVH_MODLIST 0x6040ULL
#define LAYOUT_PVH_MEMMAP  0x7000ULL
#define LAYOUT_ZERO_PAGE   0x7000ULL
#define LAYOUT_BOOT_STACK  0x8ff0ULL
#define LAYOUT_PML4        0x9000ULL
#define LAYOUT_PDPT        0xa000ULL
#define LAYOUT_PD          0xb000ULL  /* four pages: 4 GiB of 2 MiB mappings */
#define LAYOUT_EBDA        0x9fc00ULL /* MP table */
#define LAYOUT_CMDLINE     0x20000ULL
#define LAYOUT_CMDLINE_MAX 2048
#define LAYOUT_HIMEM       0x100000ULL

#define LAYOUT_MMIO_START   0xc0000000ULL /* 1 GiB 32-bit MMIO hole */
#define LAYOUT_MMIO_END     0x100000000ULL
#define LAYOUT_BOOT_TIMER   0xc0000000ULL
#define LAYOUT_VIRTIO_MMIO  0xc0001000ULL /* 4 KiB slots upward */
#define LAYOUT_IOAPIC       0xfec00000ULL
#define LAYOUT_LAPIC        0xfee00000ULL
#define LAYOUT_IDENTITY_MAP 0xfffbc000ULL
#define LAYOUT_TSS          0xfffbd000ULL

#define LAYOUT_PAGE 4096ULL

/* Legacy GSIs for virtio-mmio devices, one each in attach order. */
#define LAYOUT_VIRTIO_IRQ_FIRST 5
#define LAYOUT_VIRTIO_IRQ_LAST  23

#endif
