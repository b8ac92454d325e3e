// SPDX-License-Identifier: Apache-2.0
/* The MMDS data store: PUT replaces, PATCH merges (RFC 7386) only after a
 * PUT, the size limit on the compact serialization leaves the store as it
 * was, and the guest's IMDS view (key lists, strings, JSON, paths). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmds.h"

static struct mmds_store st;
static struct ember_err err;

static void setup(void)
{
	mmds_store_init(&st, 200);
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	mmds_store_free(&st);
}

TestSuite(mmds, .init = setup, .fini = teardown);

static json_t *j(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	cr_assert_not_null(v, "%s", text);
	return v;
}

static void expect_value(const char *text)
{
	json_t *v = mmds_value(&st), *want = j(text);

	cr_assert(json_equal(v, want), "%s", json_dumps(v, JSON_COMPACT));
	json_decref(v);
	json_decref(want);
}

Test(mmds, empty_is_an_object_and_patch_needs_a_put_first)
{
	json_t *p = j("{\"a\": 1}");

	cr_assert_not(mmds_initialized(&st));
	expect_value("{}");
	cr_assert_eq(mmds_patch(&st, p, &err), -ENOENT);
	cr_assert_str_eq(err.msg, "The MMDS data store is not initialized.");
	json_decref(p);
}

Test(mmds, put_replaces_and_patch_merges_as_rfc_7386)
{
	json_t *p =
	    j("{\"a\": {\"b\": null, \"c\": [3], \"d\": {\"e\": 1}}, \"x\": null, \"n\": \"new\"}");

	cr_assert_eq(
	    mmds_put(&st, j("{\"a\": {\"b\": 1, \"c\": [1, 2]}, \"x\": 2, \"k\": \"v\"}"), &err),
	    0);
	cr_assert_eq(mmds_patch(&st, p, &err), 0, "%s", err.msg);
	expect_value("{\"a\": {\"c\": [3], \"d\": {\"e\": 1}}, \"k\": \"v\", \"n\": \"new\"}");
	json_decref(p);
	p = j("\"scalar\"");
	cr_assert_eq(mmds_patch(&st, p, &err), 0);
	expect_value("\"scalar\"");
	json_decref(p);
	p = j("{\"o\": {\"p\": 1}}");
	cr_assert_eq(mmds_patch(&st, p, &err), 0);
	expect_value("{\"o\": {\"p\": 1}}");
	json_decref(p);
}

Test(mmds, the_limit_is_on_compact_json_and_a_refusal_changes_nothing)
{
	char big[256];
	json_t *p;

	/* {"k":"..."}: 8 bytes around the string */
	memset(big, 'a', 192);
	big[192] = '\0';
	cr_assert_eq(mmds_put(&st, json_pack("{ss}", "k", big), &err), 0, "exactly 200 bytes");
	cr_assert_eq(mmds_json_size(st.data), 200);
	big[193] = '\0';
	big[192] = 'a';
	cr_assert_eq(mmds_put(&st, json_pack("{ss}", "k", big), &err), -EFBIG);
	cr_assert_str_eq(err.msg, "The MMDS patch request doesn't fit.");
	cr_assert_eq(strlen(json_string_value(json_object_get(st.data, "k"))), 192);
	p = j("{\"more\": 1}");
	cr_assert_eq(mmds_patch(&st, p, &err), -EFBIG);
	cr_assert_null(json_object_get(st.data, "more"), "the patch was not applied");
	json_decref(p);
	p = j("{\"k\": \"short\"}");
	cr_assert_eq(mmds_patch(&st, p, &err), 0, "a patch that shrinks it fits");
	json_decref(p);
}

static char *look(const char *path, bool json, int *e)
{
	return mmds_lookup(&st, path, json, e);
}

Test(mmds, imds_lists_sorted_keys_with_a_slash_for_objects_and_shows_strings)
{
	int e;
	char *s;

	cr_assert_eq(mmds_put(&st,
			      j("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", \"zeta\": "
				"\"z\", \"b\": {\"c\": \"d\"}, \"n\": 5, \"arr\": [\"x\", "
				"\"y\"]}}}"),
			      &err),
		     0);
	s = look("/latest/meta-data", false, &e);
	cr_assert_str_eq(s, "ami-id\narr\nb/\nn\nzeta");
	free(s);
	s = look("/latest/meta-data/", false, &e);
	cr_assert_str_eq(s, "ami-id\narr\nb/\nn\nzeta", "a trailing slash names the object");
	free(s);
	s = look("//latest//meta-data///ami-id", false, &e);
	cr_assert_str_eq(s, "ami-1", "runs of slashes are one");
	free(s);
	s = look("/latest/meta-data/arr/1", false, &e);
	cr_assert_str_eq(s, "y", "array elements by index");
	free(s);
	s = look("/latest/meta-data/b", true, &e);
	cr_assert_str_eq(s, "{\"c\":\"d\"}");
	free(s);
	s = look("/latest/meta-data/ami-id", true, &e);
	cr_assert_str_eq(s, "\"ami-1\"");
	free(s);
	s = look("/", false, &e);
	cr_assert_str_eq(s, "latest/");
	free(s);
	cr_assert_null(look("/latest/meta-data/n", false, &e));
	cr_assert_eq(e, EPROTO, "IMDS shows no numbers");
	cr_assert_null(look("/latest/nothing", false, &e));
	cr_assert_eq(e, ENOENT);
	cr_assert_null(look("/latest/meta-data/arr/01", false, &e));
	cr_assert_eq(e, ENOENT);
	cr_assert_null(look("latest", false, &e));
	cr_assert_eq(e, ENOENT, "a path starts with a slash");
}

Test(mmds, pointer_escapes_and_no_data)
{
	int e;
	char *s;

	cr_assert_null(look("/x", false, &e));
	cr_assert_eq(e, ENOENT, "no data yet");
	cr_assert_eq(mmds_put(&st, j("{\"a/b\": \"slash\", \"m~n\": \"tilde\"}"), &err), 0);
	s = look("/a~1b", false, &e);
	cr_assert_str_eq(s, "slash");
	free(s);
	s = look("/m~0n", false, &e);
	cr_assert_str_eq(s, "tilde");
	free(s);
}

/* --- the guest's side: requests and V2 tokens ----------------------------- */

static struct mmds_guest g;
static struct mmds_response resp;

static int serve(const char *method, const char *path, const char *token, uint64_t now)
{
	struct mmds_request r = { .method = method, .path = path, .token = token };

	free(resp.body);
	cr_assert_eq(mmds_guest_serve(&g, &st, &r, now, &resp), 0);
	return resp.status;
}

static const char *get_token(uint32_t ttl, uint64_t now)
{
	static char tok[MMDS_TOKEN_LEN + 1];
	char ttls[16];
	struct mmds_request r = { .method = "PUT",
				  .path = "/latest/api/token",
				  .ttl = ttls,
				  .ttl_header = "X-metadata-token-ttl-seconds" };

	snprintf(ttls, sizeof(ttls), "%u", ttl);
	free(resp.body);
	cr_assert_eq(mmds_guest_serve(&g, &st, &r, now, &resp), 0);
	cr_assert_eq(resp.status, 200, "%s", resp.body);
	cr_assert_str_eq(resp.header, "X-metadata-token-ttl-seconds: 60");
	snprintf(tok, sizeof(tok), "%s", resp.body);
	return tok;
}

static void put_sample(void)
{
	cr_assert_eq(mmds_put(&st,
			      j("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-12345678\", "
				"\"n\": 1}}}"),
			      &err),
		     0);
	st.limit = 51200;
}

Test(mmds, v2_needs_a_token_that_has_not_expired)
{
	const char *tok;

	put_sample();
	mmds_guest_init(&g, true, false);
	cr_assert_eq(serve("GET", "/latest/meta-data/ami-id", NULL, 1000), 401);
	cr_assert(strstr(resp.body, "No MMDS token provided"), "%s", resp.body);
	tok = get_token(60, 1000);
	cr_assert_eq(strlen(tok), MMDS_TOKEN_LEN);
	cr_assert_eq(serve("GET", "/latest/meta-data/ami-id", tok, 2000), 200);
	cr_assert_str_eq(resp.body, "ami-12345678");
	cr_assert_not(resp.json);
	cr_assert_eq(serve("GET", "/latest/meta-data/ami-id", "0123456789abcdef", 2000), 401);
	cr_assert_str_eq(resp.body, "MMDS token not valid.");
	cr_assert_eq(serve("GET", "/latest/meta-data/ami-id", tok, 1000 + 60 * 1000), 401,
		     "expired after its ttl");
	cr_assert_eq(g.stats.rx_no_token, 1);
	cr_assert_eq(g.stats.rx_invalid_token, 2);
	free(resp.body);
	resp.body = NULL;
}

Test(mmds, v1_answers_without_a_token_and_counts_it)
{
	put_sample();
	mmds_guest_init(&g, false, false);
	cr_assert_eq(serve("GET", "/latest/meta-data/", NULL, 0), 200);
	cr_assert_str_eq(resp.body, "ami-id\nn");
	cr_assert_eq(serve("GET", "/latest/meta-data/n", NULL, 0), 501,
		     "a number: IMDS cannot show it");
	cr_assert_eq(serve("GET", "/latest/nothing?x=1", NULL, 0), 404);
	cr_assert_str_eq(resp.body, "Resource not found: /latest/nothing.");
	cr_assert_eq(serve("DELETE", "/latest", NULL, 0), 405);
	cr_assert_str_eq(resp.header, "Allow: GET, PUT");
	cr_assert_eq(serve("GET", "latest", NULL, 0), 400);
	cr_assert_eq(g.stats.rx_no_token, 3, "each GET without one");
	free(resp.body);
	resp.body = NULL;
}

Test(mmds, json_on_accept_unless_imds_compat)
{
	struct mmds_request r = { .method = "GET",
				  .path = "/latest/meta-data",
				  .accept = "application/json" };

	put_sample();
	mmds_guest_init(&g, false, false);
	cr_assert_eq(mmds_guest_serve(&g, &st, &r, 0, &resp), 0);
	cr_assert_str_eq(resp.body, "{\"ami-id\":\"ami-12345678\",\"n\":1}");
	cr_assert(resp.json);
	free(resp.body);
	mmds_guest_init(&g, false, true);
	cr_assert_eq(mmds_guest_serve(&g, &st, &r, 0, &resp), 0);
	cr_assert_str_eq(resp.body, "ami-id\nn", "EC2 IMDS ignores Accept");
	free(resp.body);
	resp.body = NULL;
}

Test(mmds, token_requests_are_checked_as_firecracker_does)
{
	struct mmds_request r = { .method = "PUT", .path = "/latest/api/token" };

	mmds_guest_init(&g, true, false);
	cr_assert_eq(mmds_guest_serve(&g, &st, &r, 0, &resp), 0);
	cr_assert_eq(resp.status, 400);
	cr_assert(strstr(resp.body, "Token time to live value not found"), "%s", resp.body);
	free(resp.body);
	r.ttl = "0";
	cr_assert_eq(mmds_guest_serve(&g, &st, &r, 0, &resp), 0);
	cr_assert_str_eq(resp.body, "Invalid time to live value provided for token: 0. Please "
				    "provide a value between 1 and 21600.");
	free(resp.body);
	r.ttl = "ten";
	cr_assert_eq(mmds_guest_serve(&g, &st, &r, 0, &resp), 0);
	cr_assert_eq(resp.status, 400);
	free(resp.body);
	r.ttl = "60";
	r.forwarded_for = true;
	cr_assert_eq(mmds_guest_serve(&g, &st, &r, 0, &resp), 0);
	cr_assert_eq(resp.status, 400, "no token through a proxy");
	free(resp.body);
	r.forwarded_for = false;
	r.path = "/latest/other";
	cr_assert_eq(mmds_guest_serve(&g, &st, &r, 0, &resp), 0);
	cr_assert_eq(resp.status, 404);
	free(resp.body);
	resp.body = NULL;
}

Test(mmds, the_token_table_is_bounded)
{
	char first[MMDS_TOKEN_LEN + 1];

	put_sample();
	mmds_guest_init(&g, true, false);
	snprintf(first, sizeof(first), "%s", get_token(60, 0));
	for (unsigned i = 0; i < MMDS_TOKENS_MAX; i++)
		get_token(60, 1 + i);
	cr_assert_eq(serve("GET", "/latest", first, 1000), 401,
		     "the token nearest its expiry made room for a new one");
	free(resp.body);
	resp.body = NULL;
}
