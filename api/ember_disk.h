/* SPDX-License-Identifier: Apache-2.0 */
/* A directory's tree as an ext4 disk image (mkfs.ext4 -d): see ember_disk.c. */
#ifndef EMBER_API_DISK_H
#define EMBER_API_DISK_H

#include <stdint.h>

#include "err.h"

/* `image` (replaced) holds dir's tree with free room of room_pct percent of
 * what the tree takes, at least room_min bytes; its size in 512-byte
 * sectors in *sectors (if not NULL). */
int ember_disk_from_dir(const char *dir, const char *image, unsigned room_pct, uint64_t room_min,
			uint64_t *sectors, struct ember_err *err);

#endif
