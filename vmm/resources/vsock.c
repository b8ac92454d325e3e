// SPDX-License-Identifier: Apache-2.0
/* PUT /vsock: the virtio-vsock device and its Unix socket (Firecracker's
 * VsockDeviceConfig; vsock_id is deprecated and unused). One per VM: a new
 * PUT replaces it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "log.h"
#include "resource.h"

#define UDS_PATH_MAX 107 /* sun_path, NUL excluded */

static const struct field fields[] = {
	{ .name = "vsock_id", .type = FT_STRING, .flags = F_NULLABLE },
	{ .name = "guest_cid", .type = FT_U32, .flags = F_REQUIRED },
	{ .name = "uds_path", .type = FT_STRING, .flags = F_REQUIRED },
	{ 0 },
};

static int parse(struct res_call *c, struct ember_err *err)
{
	int ret = body_check(&c->body, fields, "struct VsockDeviceConfig", 0, err);

	if (!ret && body_has(c->body.value, "vsock_id")) {
		c->deprecated = true;
		log_warn("PUT /vsock: vsock_id field is deprecated.");
	}
	return ret;
}

static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	uint64_t cid = body_u64(o, "guest_cid", 0);
	const char *uds = body_str(o, "uds_path");
	char *path;

	(void)in;
	/* CIDs 0-2 are the hypervisor's, the host's and reserved; -1 is "any". */
	if (cid < 3 || cid == 0xffffffffu)
		return err_set(err, EINVAL,
			       "Vsock config error: Cannot create vsock device: the guest_cid %llu "
			       "is reserved (use 3 or more)",
			       (unsigned long long)cid);
	if (!*uds || strlen(uds) > UDS_PATH_MAX)
		return err_set(err, ENAMETOOLONG,
			       "Vsock config error: Cannot create backend for vsock device: the "
			       "uds_path must be 1 to %d bytes",
			       UDS_PATH_MAX);
	if (body_dup(uds, &path, err))
		return -ENOMEM;
	free(c->cfg->vsock.uds_path);
	c->cfg->vsock = (struct config_vsock){ .set = true, .guest_cid = cid, .uds_path = path };
	return 0;
}

static json_t *dump(const struct instance *in)
{
	const struct config_vsock *v = &in->cfg.vsock;

	if (!v->set)
		return json_null();
	return json_pack("{sIss}", "guest_cid", (json_int_t)v->guest_cid, "uds_path", v->uds_path);
}

const struct res_def res_vsock = {
	.path = "vsock",
	.metric = "vsock",
	.ops = { [RES_PUT] = { RES_PRE, true, parse, apply } },
	.key = "vsock",
	.dump = dump,
};
