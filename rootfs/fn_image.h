/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's image functions: see fn_image.c. */
#ifndef EMBER_ROOTFS_FN_IMAGE_H
#define EMBER_ROOTFS_FN_IMAGE_H

#include <stdbool.h>

/* ember-fn's fn/image.c writes it (FN_IMAGE_SPEC at the root's top). */
#define FN_IMAGE_SPEC_PATH "/fn/.ember-fn.json"

bool fn_image_present(void);
/* /proc, /sys, /dev and /tmp in the image's root, those not there yet: 0,
 * or -errno with the mount point that failed in `which`. */
int fn_image_mounts(const char **which);
/* In the handler's child, stdio in place: chroot and exec; never returns. */
_Noreturn void fn_image_exec(void);

#endif
