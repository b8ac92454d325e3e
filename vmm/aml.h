/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small AML emitter (ACPI 6.5, chapter 20) for the DSDT ember builds:
 * names, integers, strings, packages, buffers, devices, methods and the
 * resource descriptors a microVM's devices need (section 6.4). Terms are
 * built into their own buffer, then wrapped by the construct that holds
 * them, which then knows its PkgLength.
 */
#ifndef EMBER_AML_H
#define EMBER_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool failed; /* out of memory, or a bad name: the whole is unusable */
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);
void aml_bytes(struct aml *a, const void *p, size_t n);
/* PkgLength for a body of n bytes (it counts itself). */
void aml_pkg_length(struct aml *a, size_t body);
/* A NameString: "V000", "_SB_.COM1", "\\_SB_.PS2_" (segments of up to 4
 * characters, padded with '_'). A bad name marks the buffer failed. */
void aml_name_string(struct aml *a, const char *path);
/* Integers, with the shortest prefix (ZeroOp and OneOp for 0 and 1). */
void aml_integer(struct aml *a, uint64_t v);
/* An integer with a fixed prefix: 4 bytes (DWordPrefix), as Firecracker's _UID. */
void aml_dword(struct aml *a, uint32_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0501"): the compressed 32-bit form, as a DWord. */
void aml_eisaid(struct aml *a, const char *id);
/* Name (name, <the term already in value>) */
void aml_name(struct aml *a, const char *name, const struct aml *value);
/* Package: elements already encoded, n of them. */
void aml_package(struct aml *a, unsigned n, const struct aml *elements);
/* Buffer of raw bytes (a ResourceTemplate). */
void aml_buffer(struct aml *a, const struct aml *bytes);
/* Device (name) { body } and Method (name, args) { body }. */
void aml_device(struct aml *a, const char *name, const struct aml *body);
void aml_method(struct aml *a, const char *name, unsigned args, const struct aml *body);
/* Return (value) */
void aml_return(struct aml *a, const struct aml *value);

/* Resource descriptors, for a ResourceTemplate's bytes. */
void aml_res_memory32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t len);
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } */
void aml_res_irq_edge(struct aml *a, uint32_t gsi);
/* The end tag; call last. */
void aml_res_end(struct aml *a);

#endif
