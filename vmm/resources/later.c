// SPDX-License-Identifier: Apache-2.0
/* Firecracker's device ember does not have yet (memory hot-plug): its
 * config-file section is taken when empty, as tools write it, and refused
 * otherwise; GET /vm/config shows it as Firecracker shows it absent. It has
 * no API routes yet. */
#include <errno.h>

#include "instance.h"
#include "resource.h"

static int refuse(struct instance *in, struct res_call *c, struct ember_err *err)
{
	(void)in;
	if (json_is_null(c->body.value) ||
	    (json_is_array(c->body.value) && json_array_size(c->body.value) == 0))
		return 0;
	return err_set(err, ENOTSUP, "not supported by this version of ember");
}

const struct res_def res_memory_hotplug = { .key = "memory-hotplug",
					    .file = refuse,
					    .dump = res_dump_null };
