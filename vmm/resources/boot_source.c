// SPDX-License-Identifier: Apache-2.0
/* PUT /boot-source and the config file's "boot-source": the kernel, the
 * initrd and the command line (Firecracker's BootSourceConfig). The files
 * must open now, as Firecracker checks them at the PUT. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"
#include "layout.h"
#include "resource.h"

static const struct field fields[] = {
	{ .name = "kernel_image_path", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "initrd_path", .type = FT_STRING, .flags = F_NULLABLE },
	{ .name = "boot_args", .type = FT_STRING, .flags = F_NULLABLE },
	{ 0 },
};

static int parse(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, fields, "struct BootSourceConfig", 0, err);
}

/* 0, or errno with Rust's words for it in os. */
static int can_open(const char *path, char *os, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	res_os_error(errno, os, size);
	return errno;
}

static int check_host(const struct config_boot *b, struct ember_err *err)
{
	char os[128];
	int ret, e;

	if ((e = can_open(b->kernel_image_path, os, sizeof(os))))
		return err_set(err, e, "Boot source error: The kernel file cannot be opened: %s",
			       os);
	if (b->initrd_path && (e = can_open(b->initrd_path, os, sizeof(os))))
		return err_set(err, e,
			       "Boot source error: The initrd file cannot be opened due to invalid "
			       "path or invalid permissions. %s",
			       os);
	ret = 0;
	/* ember adds root=, pci=off and a virtio_mmio.device= per device. */
	if (!ret && b->boot_args && strlen(b->boot_args) >= LAYOUT_CMDLINE_MAX)
		ret = err_set(err, E2BIG,
			      "Boot source error: The kernel command line is invalid: it is %zu "
			      "bytes, the limit is %d",
			      strlen(b->boot_args), LAYOUT_CMDLINE_MAX - 1);
	return ret;
}

/* The new source replaces the old one whole. */
static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	struct config_boot b = { 0 };
	int ret;

	(void)in;
	ret = body_dup(body_str(o, "kernel_image_path"), &b.kernel_image_path, err);
	if (!ret)
		ret = body_dup(body_str(o, "initrd_path"), &b.initrd_path, err);
	if (!ret)
		ret = body_dup(body_str(o, "boot_args"), &b.boot_args, err);
	if (!ret && !c->restoring)
		ret = check_host(&b, err);
	if (ret) {
		config_boot_free(&b);
		return ret;
	}
	config_boot_free(&c->cfg->boot);
	c->cfg->boot = b;
	c->cfg->has_boot = true;
	return 0;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Before any PUT, Firecracker shows its empty default. */
static json_t *dump(const struct instance *in)
{
	const struct config_boot *b = &in->cfg.boot;

	return json_pack("{sososo}", "kernel_image_path",
			 json_string(in->cfg.has_boot ? b->kernel_image_path : ""), "initrd_path",
			 str_or_null(b->initrd_path), "boot_args", str_or_null(b->boot_args));
}

const struct res_def res_boot_source = {
	.path = "boot-source",
	.metric = "boot_source",
	.ops = { [RES_PUT] = { RES_PRE, true, parse, apply } },
	.key = "boot-source",
	.dump = dump,
};
