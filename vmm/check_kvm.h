/* SPDX-License-Identifier: Apache-2.0 */
/* `ember --check-kvm`: can this host's KVM run ember's guests directly? */
#ifndef EMBER_CHECK_KVM_H
#define EMBER_CHECK_KVM_H

#include <stdbool.h>
#include <stdio.h>

/* Prints a report to out (unless quiet); 0 when the host is fit, 1 if not. */
int check_kvm_run(const char *kvm_path, FILE *out, bool quiet);

#endif
