// SPDX-License-Identifier: Apache-2.0
/* libFuzzer: the snapshot state-file loader up to the point where KVM is
 * needed: size, magic, version, CRC, configuration and memory layout, then
 * the configuration itself and the bounds-checked reads of what follows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "crc64.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Half the inputs get a correct CRC, so the fuzzer reaches past the check. */
static uint8_t *with_crc(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size + 8);
	uint64_t crc;

	if (!buf)
		return NULL;
	memcpy(buf, data, size);
	crc = crc64_update(0, buf, size);
	memcpy(buf + size, &crc, 8);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ember_err err = { 0 };
	struct snapshot_file f;
	uint8_t *buf = NULL;
	size_t len = size;

	if (size && data[0] & 1) {
		buf = with_crc(data + 1, size - 1);
		if (!buf)
			return 0;
		data = buf;
		len = size - 1 + 8;
	}
	if (snapshot_parse(&f, data, len, &err) == 0) {
		static const struct vm_options opts = { .serial_in_fd = -1, .serial_out_fd = -1 };
		struct instance in;

		/* As a load reads it: no file, TAP or logger is touched. */
		log_set_level(LOG_OFF);
		if (instance_init(&in, "fuzz", "0", &opts) == 0)
			res_load_config(&in, &in.cfg, f.config_json, true, &err);
		instance_free(&in);
		while (!f.rest.failed)
			state_get_u64(&f.rest);
		snapshot_file_free(&f);
	}
	free(buf);
	return 0;
}
