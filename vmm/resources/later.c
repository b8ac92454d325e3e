// SPDX-License-Identifier: Apache-2.0
/* Firecracker's devices ember does not have yet (pmem, memory hot-plug): their config-file sections are taken when empty, as
 * tools write them, and refused otherwise; GET /vm/config shows them as
 * Firecracker shows them absent. They have no API routes yet. */
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

static json_t *empty_dump(const struct instance *in)
{
	(void)in;
	return json_array();
}

const struct res_def res_pmem = { .key = "pmem", .file = refuse, .dump = empty_dump };
const struct res_def res_memory_hotplug = { .key = "memory-hotplug",
					    .file = refuse,
					    .dump = res_dump_null };
