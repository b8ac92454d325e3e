// SPDX-License-Identifier: Apache-2.0
/* Kernel command-line assembly. */
#include <criterion/criterion.h>

#include "cmdline.h"

Test(cmdline, joins_words_with_single_spaces)
{
	struct cmdline cl;

	cmdline_init(&cl);
	cr_assert_eq(cmdline_append(&cl, "  console=ttyS0 ", NULL), 0);
	cr_assert_eq(cmdline_append(&cl, "", NULL), 0);
	cr_assert_eq(cmdline_appendf(&cl, NULL, "virtio_mmio.device=4K@0x%x:%d", 0xc0001000, 5), 0);
	cr_assert_str_eq(cl.buf, "console=ttyS0 virtio_mmio.device=4K@0xc0001000:5");
	cr_assert_eq(cl.len, strlen(cl.buf));
}

Test(cmdline, refuses_to_overflow_and_keeps_contents)
{
	char word[1500];
	struct ember_err err = { 0 };
	struct cmdline cl;

	memset(word, 'x', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	cmdline_init(&cl);
	cr_assert_eq(cmdline_append(&cl, word, &err), 0);
	cr_assert_lt(cmdline_append(&cl, word, &err), 0);
	cr_assert(strstr(err.msg, "exceed"));
	cr_assert_eq(cl.len, sizeof(word) - 1, "a refused append leaves the line unchanged");
	word[LAYOUT_CMDLINE_MAX - sizeof(word) - 1] = '\0';
	cr_assert_eq(cmdline_append(&cl, word, &err), 0, "fills exactly to the limit");
	cr_assert_eq(cl.len, LAYOUT_CMDLINE_MAX - 1);
}

Test(cmdline, has_matches_whole_keys_outside_quotes)
{
	struct cmdline cl;

	cmdline_init(&cl);
	cmdline_append(&cl, "console=ttyS0 quiet ember.cmd=\"pci=on root=x\" rootwait", NULL);
	cr_assert(cmdline_has(&cl, "console"));
	cr_assert(cmdline_has(&cl, "quiet"));
	cr_assert(cmdline_has(&cl, "rootwait"));
	cr_assert(cmdline_has(&cl, "ember.cmd"));
	cr_assert_not(cmdline_has(&cl, "pci"), "inside quotes");
	cr_assert_not(cmdline_has(&cl, "root"), "inside quotes, and a prefix of rootwait");
	cr_assert_not(cmdline_has(&cl, "cons"));
}
