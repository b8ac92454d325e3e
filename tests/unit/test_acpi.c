// SPDX-License-Identifier: Apache-2.0
/*
 * ACPI tables parsed back: the AML emitter's encodings, then whole table
 * sets for 1 and 32 vCPUs and 0 to the most virtio devices: checksums,
 * lengths, the pointers from the RSDP down, the MADT's entries, and the
 * DSDT decoded by a small AML reader here (every device's _HID, _UID and
 * resources). Where acpica-tools is installed, iasl disassembles them too.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acpi.h"
#include "aml.h"
#include "layout.h"
#include "vm.h"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void expect_bytes(const struct aml *a, const uint8_t *want, size_t n)
{
	cr_assert_not(a->failed);
	cr_assert_eq(a->len, n, "%zu bytes, want %zu", a->len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(a->buf[i], want[i], "byte %zu: %02x, want %02x", i, a->buf[i],
			     want[i]);
}

Test(aml, pkg_length_at_each_size_boundary)
{
	static const struct {
		size_t body;
		uint8_t bytes[4];
		size_t n;
	} cases[] = {
		{ 0, { 0x01 }, 1 },
		{ 62, { 0x3f }, 1 },
		{ 63, { 0x41, 0x04 }, 2 },
		{ 67, { 0x45, 0x04 }, 2 }, /* total 69 */
		{ 4093, { 0x4f, 0xff }, 2 },
		{ 4094, { 0x81, 0x00, 0x01 }, 3 },
		{ (1u << 20) - 4, { 0x8f, 0xff, 0xff }, 3 },
		{ (1u << 20) - 3, { 0xc1, 0x00, 0x00, 0x01 }, 4 }, /* total 2^20 + 1 */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aml a;

		aml_init(&a);
		aml_pkg_length(&a, cases[i].body);
		expect_bytes(&a, cases[i].bytes, cases[i].n);
		aml_free(&a);
	}
}

Test(aml, names_integers_strings_and_eisaid)
{
	static const uint8_t want[] = {
		'V',  '0',  '0',  '0',                                     /* one segment */
		0x5c, 0x2e, '_',  'S',  'B',  '_',  'C',  'O',  'M',  '1', /* \_SB_.COM1 */
		0x2f, 3,    '_',  'S',  'B',  '_',  'P',  'S',  '2',  '_',  'X',  '_',
		'_',  '_',  0x00, 0x01, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0c, 0x00, 0x00,
		0x01, 0x00, 0x0e, 0,    0,    0,    0,    1,    0,    0,    0, /* 2^32 */
		0x0d, 'A',  'b',  0,                                           /* "Ab" */
		0x0c, 0x41, 0xd0, 0x05, 0x01,                                  /* EisaId PNP0501 */
	};
	struct aml a, bad;

	aml_init(&a);
	aml_name_string(&a, "V000");
	aml_name_string(&a, "\\_SB_.COM1");
	aml_name_string(&a, "_SB.PS2.X");
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 1ull << 32);
	aml_string(&a, "Ab");
	aml_eisaid(&a, "PNP0501");
	expect_bytes(&a, want, sizeof(want));
	aml_free(&a);
	aml_init(&bad);
	aml_name_string(&bad, "TOOLONG");
	cr_assert(bad.failed, "a segment of 7 characters");
	aml_free(&bad);
	aml_init(&bad);
	aml_name_string(&bad, "0ABC");
	cr_assert(bad.failed, "a digit cannot lead");
	aml_free(&bad);
}

/* Firecracker's device for the first slot, byte for byte (reference: 71 bytes). */
Test(aml, a_virtio_device_is_firecrackers_71_bytes)
{
	static const struct acpi_machine m = { .nr_vcpus = 1,
					       .virtio = { { 0xc0001000, 0x1000, 5 } },
					       .nr_virtio = 1 };
	static const uint8_t want[] = {
		0x5b, 0x82, 0x45, 0x04, 'V',  '0',  '0',  '0',  0x08, '_',  'H',  'I',
		'D',  0x0d, 'L',  'N',  'R',  'O',  '0',  '0',  '0',  '5',  0x00, 0x08,
		'_',  'U',  'I',  'D',  0x0c, 0,    0,    0,    0,    0x08, '_',  'C',
		'C',  'A',  0x01, 0x08, '_',  'C',  'R',  'S',  0x11, 0x1a, 0x0a, 0x17,
		0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xc0, 0x00, 0x10, 0x00, 0x00,
		0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00,
	};
	static uint8_t out[ACPI_TABLES_END - ACPI_TABLES_GPA];
	uint8_t rsdp[ACPI_RSDP_LEN];
	size_t len;

	cr_assert_eq(acpi_build(&m, out, &len, rsdp, NULL), 0);
	cr_assert_eq(memcmp(out + 36, want, sizeof(want)), 0, "the DSDT starts with V000");
}

/* ---- a small AML reader: names and their values, with full paths ---- */

struct obj {
	char path[160];
	char kind; /* 'i' integer, 's' string, 'b' buffer, 'p' package, 'm' method, 'd' device */
	uint64_t i;
	char s[64];
	const uint8_t *buf;
	size_t len;
	uint64_t pkg[8];
	unsigned n;
};

struct reader {
	const uint8_t *p, *end;
	struct obj objs[256];
	unsigned nr;
	bool bad;
};

static size_t pkg_length(struct reader *r)
{
	uint8_t lead = *r->p++;
	unsigned extra = lead >> 6;
	size_t len = extra ? lead & 0xf : lead & 0x3f;

	for (unsigned i = 0; i < extra; i++)
		len |= (size_t)*r->p++ << (4 + 8 * i);
	return len;
}

static void name_string(struct reader *r, char *out, size_t size)
{
	unsigned segs = 1;
	size_t o = 0;

	out[0] = '\0';
	while (*r->p == '\\' || *r->p == '^')
		r->p++;
	if (*r->p == 0x2e) {
		segs = 2;
		r->p++;
	} else if (*r->p == 0x2f) {
		segs = r->p[1];
		r->p += 2;
	} else if (*r->p == 0) {
		r->p++;
		return;
	}
	for (unsigned i = 0; i < segs && o + 5 < size; i++, r->p += 4)
		o +=
		    (size_t)snprintf(out + o, size - o, "%s%.4s", i ? "." : "", (const char *)r->p);
}

static bool integer(struct reader *r, uint64_t *v)
{
	static const unsigned widths[] = { [0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8 };
	uint8_t op = *r->p;

	if (op == 0 || op == 1 || op == 0xff) {
		*v = op == 0xff ? ~0ull : op;
		r->p++;
		return true;
	}
	if (op > 0x0e || !widths[op])
		return false;
	r->p++;
	*v = 0;
	for (unsigned i = 0; i < widths[op]; i++)
		*v |= (uint64_t)*r->p++ << (8 * i);
	return true;
}

static void data(struct reader *r, struct obj *o)
{
	const uint8_t *start;
	size_t len;

	if (integer(r, &o->i)) {
		o->kind = 'i';
	} else if (*r->p == 0x0d) {
		o->kind = 's';
		snprintf(o->s, sizeof(o->s), "%s", (const char *)++r->p);
		r->p += strlen((const char *)r->p) + 1;
	} else if (*r->p == 0x11 || *r->p == 0x12) {
		bool pkg = *r->p++ == 0x12;

		start = r->p;
		len = pkg_length(r);
		o->kind = pkg ? 'p' : 'b';
		if (pkg) {
			o->n = *r->p++;
			for (unsigned i = 0; i < o->n && i < 8; i++)
				r->bad |= !integer(r, &o->pkg[i]);
		} else {
			r->bad |= !integer(r, &o->i); /* the buffer's size */
			o->buf = r->p;
			o->len = (size_t)(start + len - r->p);
		}
		r->p = start + len;
	} else {
		r->bad = true;
	}
}

static void terms(struct reader *r, const char *scope, const uint8_t *end);

static void add_obj(struct reader *r, const char *scope, const char *name, struct obj **o)
{
	*o = &r->objs[r->nr < 255 ? r->nr++ : 255];
	memset(*o, 0, sizeof(**o));
	snprintf((*o)->path, sizeof((*o)->path), "%.90s%s%.60s", scope, *scope ? "." : "", name);
}

static void term(struct reader *r, const char *scope)
{
	char name[64];
	const uint8_t *start;
	struct obj *o;
	size_t len;

	if (*r->p == 0x08) { /* Name */
		r->p++;
		name_string(r, name, sizeof(name));
		add_obj(r, scope, name, &o);
		data(r, o);
	} else if (r->p[0] == 0x5b && r->p[1] == 0x82) { /* Device */
		r->p += 2;
		start = r->p;
		len = pkg_length(r);
		name_string(r, name, sizeof(name));
		add_obj(r, scope, name, &o);
		o->kind = 'd';
		terms(r, o->path, start + len);
	} else if (*r->p == 0x14) { /* Method: its name, body skipped */
		start = ++r->p;
		len = pkg_length(r);
		name_string(r, name, sizeof(name));
		add_obj(r, scope, name, &o);
		o->kind = 'm';
		o->buf = r->p + 1; /* after the flags */
		o->len = (size_t)(start + len - o->buf);
		r->p = start + len;
	} else {
		r->bad = true;
	}
}

static void terms(struct reader *r, const char *scope, const uint8_t *end)
{
	char copy[160];

	snprintf(copy, sizeof(copy), "%s", scope);
	while (r->p < end && !r->bad)
		term(r, copy);
	r->bad |= r->p != end;
}

static const struct obj *find(const struct reader *r, const char *path)
{
	for (unsigned i = 0; i < r->nr; i++)
		if (!strcmp(r->objs[i].path, path))
			return &r->objs[i];
	return NULL;
}

/* ---- whole table sets ---- */

struct tables {
	uint8_t buf[ACPI_TABLES_END - ACPI_TABLES_GPA];
	size_t len;
	uint8_t rsdp[ACPI_RSDP_LEN];
};

static const uint8_t *at(const struct tables *t, uint64_t gpa)
{
	cr_assert(gpa >= ACPI_TABLES_GPA && gpa < ACPI_TABLES_GPA + t->len, "0x%llx",
		  (unsigned long long)gpa);
	return t->buf + (gpa - ACPI_TABLES_GPA);
}

/* A table: its signature, a length inside the image, a zero byte sum. */
static const uint8_t *table(const struct tables *t, uint64_t gpa, const char *sig)
{
	const uint8_t *p = at(t, gpa);
	uint32_t len = rd32(p + 4);
	uint8_t sum = 0;

	cr_assert_eq(memcmp(p, sig, 4), 0, "%.4s, want %s", (const char *)p, sig);
	cr_assert(len >= 36 && gpa + len <= ACPI_TABLES_GPA + t->len, "%s length %u", sig, len);
	for (uint32_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	cr_assert_eq(sum, 0, "%s checksum", sig);
	return p;
}

static void machine(struct acpi_machine *m, unsigned vcpus, unsigned devices)
{
	memset(m, 0, sizeof(*m));
	m->nr_vcpus = vcpus;
	m->nr_virtio = devices;
	for (unsigned i = 0; i < devices; i++)
		m->virtio[i] = (struct acpi_mmio_device){ LAYOUT_VIRTIO_MMIO + 0x1000 * i, 0x1000,
							  LAYOUT_VIRTIO_IRQ_FIRST + i };
}

static void check_rsdp(const struct tables *t)
{
	uint8_t sum = 0;

	cr_assert_eq(memcmp(t->rsdp, "RSD PTR ", 8), 0);
	for (int i = 0; i < 20; i++)
		sum = (uint8_t)(sum + t->rsdp[i]);
	cr_assert_eq(sum, 0, "RSDP checksum over 20 bytes");
	for (int i = 20; i < ACPI_RSDP_LEN; i++)
		sum = (uint8_t)(sum + t->rsdp[i]);
	cr_assert_eq(sum, 0, "extended checksum over 36 bytes");
	cr_assert_eq(t->rsdp[15], 2);
	cr_assert_eq(rd32(t->rsdp + 20), ACPI_RSDP_LEN);
	cr_assert_eq(rd32(t->rsdp + 16), 0, "no RSDT");
}

static void check_fadt(const uint8_t *f)
{
	cr_assert_eq(rd32(f + 4), 276, "revision 6 FADT");
	cr_assert_eq(f[8], 6);
	cr_assert(rd32(f + 112) & (1u << 20), "HW_REDUCED_ACPI");
	cr_assert(rd32(f + 112) & (1u << 10), "RESET_REG_SUP");
	cr_assert_eq(f[116], 1, "RESET_REG in I/O space");
	cr_assert_eq(rd64(f + 120), ACPI_PM_PORT + ACPI_PM_REG_RESET);
	cr_assert_eq(f[128], ACPI_RESET_VALUE);
	cr_assert_eq(rd64(f + 248), ACPI_PM_PORT + ACPI_PM_REG_SLEEP_CTL, "SLEEP_CONTROL_REG");
	cr_assert_eq(rd64(f + 260), ACPI_PM_PORT + ACPI_PM_REG_SLEEP_STS, "SLEEP_STATUS_REG");
	cr_assert_eq(f[244], 1);
	cr_assert_eq(f[245], 8, "8 bits wide");
}

static void check_madt(const uint8_t *madt, unsigned vcpus)
{
	uint32_t len = rd32(madt + 4), off = 44;
	unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;

	cr_assert_eq(rd32(madt + 36), LAYOUT_LAPIC);
	while (off < len) {
		const uint8_t *e = madt + off;

		cr_assert(e[1] >= 2 && off + e[1] <= len, "entry at %u", off);
		if (e[0] == 0) {
			cr_assert_eq(e[2], lapics, "processor UID");
			cr_assert_eq(e[3], lapics, "APIC ID = vCPU index");
			cr_assert_eq(rd32(e + 4), 1, "enabled");
			lapics++;
		} else if (e[0] == 1) {
			cr_assert_eq(rd32(e + 4), LAYOUT_IOAPIC);
			cr_assert_eq(rd32(e + 8), 0, "GSI base");
			ioapics++;
		} else if (e[0] == 2) {
			cr_assert_eq(e[1], 10);
			cr_assert(e[2] == 0 && e[3] == 0 && rd32(e + 4) == 2,
				  "ISA IRQ 0 on GSI 2, where KVM's PIT is wired");
			isos++;
		} else if (e[0] == 4) {
			cr_assert(e[1] == 6 && e[2] == 0xff && e[5] == 1, "NMI on every LINT1");
			nmis++;
		} else {
			cr_assert_fail("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	cr_assert_eq(off, len);
	cr_assert_eq(lapics, vcpus);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(isos, 1);
	cr_assert_eq(nmis, 1);
}

static void check_resources(const struct obj *crs, uint64_t base, uint32_t size, uint32_t gsi)
{
	const uint8_t *p = crs->buf;

	cr_assert_eq(crs->kind, 'b');
	cr_assert_eq(p[0], 0x86, "Memory32Fixed");
	cr_assert_eq(p[3], 1, "read-write");
	cr_assert_eq(rd32(p + 4), base);
	cr_assert_eq(rd32(p + 8), size);
	cr_assert_eq(p[12], 0x89, "extended interrupt");
	cr_assert_eq(p[15], 0x03, "consumer, edge, active high, exclusive");
	cr_assert_eq(p[16], 1);
	cr_assert_eq(rd32(p + 17), gsi);
	cr_assert_eq(p[21], 0x79, "end tag");
	cr_assert_eq(crs->len, 23);
}

static void check_dsdt(const uint8_t *dsdt, const struct acpi_machine *m)
{
	static struct reader r;
	const struct obj *o;
	char path[32];

	memset(&r, 0, sizeof(r));
	r.p = dsdt + 36;
	r.end = dsdt + rd32(dsdt + 4);
	cr_assert_eq(dsdt[8], 2, "64-bit AML integers");
	terms(&r, "", r.end);
	cr_assert_not(r.bad, "the AML decodes whole");
	for (unsigned i = 0; i < m->nr_virtio; i++) {
		snprintf(path, sizeof(path), "V%03u._HID", i);
		cr_assert_str_eq(find(&r, path)->s, "LNRO0005");
		snprintf(path, sizeof(path), "V%03u._UID", i);
		cr_assert_eq(find(&r, path)->i, i);
		snprintf(path, sizeof(path), "V%03u._CRS", i);
		check_resources(find(&r, path), m->virtio[i].base, 0x1000, m->virtio[i].gsi);
	}
	snprintf(path, sizeof(path), "V%03u", m->nr_virtio);
	cr_assert_null(find(&r, path), "no more devices than the VM has");
	cr_assert_eq(find(&r, "_SB_.COM1._HID")->i, 0x0105d041, "PNP0501");
	o = find(&r, "_SB_.COM1._CRS");
	cr_assert_eq(o->buf[0], 0x89);
	cr_assert_eq(rd32(o->buf + 5), 4, "COM1 on IRQ 4");
	cr_assert_eq(o->buf[9], 0x47, "IO");
	cr_assert_eq(o->buf[11] | o->buf[12] << 8, 0x3f8);
	cr_assert_eq(o->buf[16], 8, "8 ports");
	cr_assert_eq(find(&r, "_SB_.PS2_._HID")->i, 0x0303d041, "PNP0303");
	cr_assert_eq(find(&r, "_SB_.PS2_._STA")->kind, 'm');
	o = find(&r, "_S5_");
	cr_assert_eq(o->kind, 'p');
	cr_assert_eq(o->n, 4);
	cr_assert_eq(o->pkg[0], ACPI_S5_TYPE, "SLP_TYPa");
}

static void check_all(unsigned vcpus, unsigned devices)
{
	static struct tables t;
	struct acpi_machine m;
	const uint8_t *x, *f;

	machine(&m, vcpus, devices);
	cr_assert_eq(acpi_build(&m, t.buf, &t.len, t.rsdp, NULL), 0);
	check_rsdp(&t);
	x = table(&t, rd64(t.rsdp + 24), "XSDT");
	cr_assert_eq(rd32(x + 4), 36 + 16, "two entries");
	f = table(&t, rd64(x + 36), "FACP");
	check_fadt(f);
	cr_assert_eq(rd64(f + 140), rd32(f + 40), "X_DSDT and DSDT agree");
	check_dsdt(table(&t, rd64(f + 140), "DSDT"), &m);
	check_madt(table(&t, rd64(x + 44), "APIC"), vcpus);
}

Test(acpi, tables_parse_back_for_1_and_32_vcpus_and_0_to_the_most_devices)
{
	for (unsigned d = 0; d <= VM_MAX_VIRTIO; d++) {
		check_all(1, d);
		check_all(32, d);
	}
}

Test(acpi, out_of_range_machines_are_refused)
{
	static struct tables t;
	struct acpi_machine m;

	machine(&m, 0, 1);
	cr_assert_lt(acpi_build(&m, t.buf, &t.len, t.rsdp, NULL), 0);
	machine(&m, 1, 1);
	m.nr_virtio = ACPI_MAX_MMIO_DEVICES + 1;
	cr_assert_lt(acpi_build(&m, t.buf, &t.len, t.rsdp, NULL), 0);
}

static void dump(const char *dir, const char *name, const uint8_t *p)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, rd32(p + 4), f), rd32(p + 4));
	fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	cr_assert_not_null(f, "%s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* An independent reader: ACPICA's own disassembler. */
Test(acpi, iasl_disassembles_them_without_complaint)
{
	static struct tables t;
	char dir[] = "/tmp/ember-acpi-XXXXXX", cmd[512];
	struct acpi_machine m;
	const uint8_t *x, *f;
	const char *dsl;

	if (system("command -v iasl >/dev/null"))
		cr_skip_test("iasl missing (make deps installs acpica-tools)");
	machine(&m, 2, 3);
	cr_assert_eq(acpi_build(&m, t.buf, &t.len, t.rsdp, NULL), 0);
	cr_assert_not_null(mkdtemp(dir));
	x = at(&t, rd64(t.rsdp + 24));
	f = at(&t, rd64(x + 36));
	dump(dir, "dsdt", at(&t, rd64(f + 140)));
	dump(dir, "facp", f);
	dump(dir, "apic", at(&t, rd64(x + 44)));
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.dat facp.dat apic.dat >iasl.log 2>&1",
		 dir);
	cr_assert_eq(system(cmd), 0, "%s", slurp(strcat(strcpy(cmd, dir), "/iasl.log")));
	dsl = slurp(strcat(strcpy(cmd, dir), "/dsdt.dsl"));
	cr_assert(strstr(dsl, "Memory32Fixed (ReadWrite,\n                    0xC0003000,") ||
		      strstr(dsl, "0xC0003000"),
		  "%s", dsl);
	cr_assert(strstr(dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )"),
		  "%s", dsl);
	cr_assert(strstr(dsl, "Name (_HID, \"LNRO0005\")"), "%s", dsl);
	cr_assert(strstr(dsl, "Name (_HID, EisaId (\"PNP0501\")"), "%s", dsl);
	cr_assert(strstr(dsl, "Name (_S5, Package (0x04)"), "%s", dsl);
	cr_assert(strstr(slurp(strcat(strcpy(cmd, dir), "/facp.dsl")), "Hardware Reduced (V5) : 1"),
		  "FADT");
	dsl = slurp(strcat(strcpy(cmd, dir), "/apic.dsl"));
	cr_assert(strstr(dsl, "Local Apic ID : 01"), "%s", dsl);
	cr_assert(strstr(dsl, "Interrupt : 00000002"), "%s", dsl);
	cr_assert(strstr(dsl, "Interrupt Input LINT : 01"), "%s", dsl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
