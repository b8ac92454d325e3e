// SPDX-License-Identifier: Apache-2.0
/* The API's HTTP layer: requests whole, split, pipelined, and every limit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static struct http_conn conn;
static struct http_request req;

static void setup(void)
{
	cr_assert_eq(http_conn_init(&conn, HTTP_BODY_MAX_DEFAULT), 0);
	memset(&req, 0, sizeof(req));
}

static void teardown(void)
{
	http_request_free(&req);
	http_conn_free(&conn);
}

TestSuite(http, .init = setup, .fini = teardown);

static int feed(const char *s)
{
	return http_conn_feed(&conn, s, strlen(s));
}

static void next(void)
{
	http_request_free(&req);
	cr_assert(http_conn_next(&conn, &req), "a complete request is waiting");
}

static void expect_error(const char *s, int status, const char *words)
{
	cr_assert_eq(feed(s), -EPROTO, "refused: %s", s);
	cr_assert_eq(conn.error_status, status, "%s -> %d (%s)", s, conn.error_status,
		     conn.error_msg);
	cr_assert(strstr(conn.error_msg, words), "\"%s\" in \"%s\"", words, conn.error_msg);
	cr_assert_not(http_conn_next(&conn, &req), "nothing of it is served");
}

Test(http, a_get_without_body)
{
	cr_assert_eq(feed("GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n"), 0);
	next();
	cr_assert_eq(req.verb, HTTP_VERB_GET);
	cr_assert_str_eq(req.path, "/");
	cr_assert_null(req.body);
	cr_assert(req.keep_alive, "HTTP/1.1 keeps the connection by default");
	cr_assert_not(http_conn_next(&conn, &req));
}

Test(http, a_put_with_a_json_body)
{
	const char *body = "{\"vcpu_count\": 2, \"mem_size_mib\": 256}";
	char msg[256];

	snprintf(msg, sizeof(msg),
		 "PUT /machine-config HTTP/1.1\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	cr_assert_eq(feed(msg), 0);
	next();
	cr_assert_eq(req.verb, HTTP_VERB_PUT);
	cr_assert_str_eq(req.path, "/machine-config");
	cr_assert_eq(req.body_len, strlen(body));
	cr_assert_str_eq(req.body, body);
}

Test(http, a_request_split_into_single_bytes)
{
	const char *msg = "PATCH /vm HTTP/1.1\r\nContent-Length: 19\r\n\r\n{\"state\": \"Paused\"}";

	for (size_t i = 0; i < strlen(msg); i++) {
		cr_assert_not(http_conn_next(&conn, &req), "not complete before byte %zu", i);
		cr_assert_eq(http_conn_feed(&conn, msg + i, 1), 0);
	}
	next();
	cr_assert_eq(req.verb, HTTP_VERB_PATCH);
	cr_assert_str_eq(req.path, "/vm");
	cr_assert_str_eq(req.body, "{\"state\": \"Paused\"}");
}

Test(http, pipelined_requests_come_out_in_order)
{
	cr_assert_eq(feed("GET /a HTTP/1.1\r\n\r\nPUT /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
			  "GET /c HTTP/1.1\r\n\r\n"),
		     0);
	next();
	cr_assert_str_eq(req.path, "/a");
	next();
	cr_assert_str_eq(req.path, "/b");
	cr_assert_str_eq(req.body, "{}");
	next();
	cr_assert_str_eq(req.path, "/c");
	cr_assert_not(http_conn_next(&conn, &req));
}

Test(http, a_second_request_split_after_the_first)
{
	cr_assert_eq(feed("GET /one HTTP/1.1\r\n\r\nGET /tw"), 0);
	next();
	cr_assert_str_eq(req.path, "/one");
	cr_assert_not(http_conn_next(&conn, &req));
	cr_assert_eq(feed("o HTTP/1.1\r\n\r\n"), 0);
	next();
	cr_assert_str_eq(req.path, "/two");
}

Test(http, connection_close_and_http_1_0_end_the_connection)
{
	cr_assert_eq(feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
	next();
	cr_assert_not(req.keep_alive);
	http_conn_free(&conn);
	cr_assert_eq(http_conn_init(&conn, HTTP_BODY_MAX_DEFAULT), 0);
	cr_assert_eq(feed("GET / HTTP/1.0\r\n\r\n"), 0);
	next();
	cr_assert_not(req.keep_alive);
}

Test(http, a_body_over_the_limit_is_413_before_it_arrives)
{
	expect_error("PUT /drives/x HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", 413, "51201");
}

Test(http, the_limit_is_configurable)
{
	http_conn_free(&conn);
	cr_assert_eq(http_conn_init(&conn, 10), 0);
	cr_assert_eq(feed("PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"), 0);
	next();
	expect_error("PUT /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 413, "limit of 10");
}

Test(http, a_bad_content_length_is_400)
{
	expect_error("PUT /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "malformed");
}

Test(http, two_content_lengths_are_400)
{
	expect_error("PUT /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400,
		     "malformed");
}

Test(http, a_negative_content_length_is_400)
{
	expect_error("PUT /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "malformed");
}

Test(http, chunked_bodies_are_refused)
{
	expect_error("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		     400, "transfer encodings");
}

Test(http, an_empty_chunked_body_is_refused_too)
{
	expect_error("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
		     "transfer encodings");
}

Test(http, other_methods_are_405)
{
	expect_error("POST /actions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 405, "POST");
}

Test(http, delete_is_405_too)
{
	expect_error("DELETE /drives/x HTTP/1.1\r\n\r\n", 405, "DELETE");
}

Test(http, headers_over_the_limit_are_431)
{
	char *msg = malloc(HTTP_HEADERS_MAX + 100);

	strcpy(msg, "GET / HTTP/1.1\r\nX-Big: ");
	memset(msg + strlen(msg), 'a', HTTP_HEADERS_MAX);
	msg[HTTP_HEADERS_MAX + 20] = '\0';
	expect_error(msg, 431, "headers");
	free(msg);
}

Test(http, a_long_url_is_414)
{
	char msg[HTTP_PATH_MAX + 64];

	strcpy(msg, "GET /");
	memset(msg + 5, 'a', HTTP_PATH_MAX);
	strcpy(msg + 5 + HTTP_PATH_MAX, " HTTP/1.1\r\n\r\n");
	expect_error(msg, 414, "request target");
}

Test(http, garbage_is_400_and_stays_broken)
{
	expect_error("HELLO WORLD\r\n\r\n", 400, "malformed");
	cr_assert_eq(feed("GET / HTTP/1.1\r\n\r\n"), -EPROTO, "nothing parses after an error");
	cr_assert_not(http_conn_next(&conn, &req));
}

Test(http, too_many_pipelined_requests_are_503)
{
	char msg[64 * (HTTP_QUEUE_MAX + 1)] = "";

	for (int i = 0; i <= HTTP_QUEUE_MAX; i++)
		strcat(msg, "GET / HTTP/1.1\r\n\r\n");
	cr_assert_eq(feed(msg), -EPROTO);
	cr_assert_eq(conn.error_status, 503);
	for (int i = 0; i < HTTP_QUEUE_MAX; i++)
		next();
	cr_assert_not(http_conn_next(&conn, &req));
}

Test(http, responses_have_exact_lengths)
{
	char *out, *body = http_fault_body("bad \"quote\"\n");
	size_t len;

	cr_assert_str_eq(body, "{\"fault_message\":\"bad \\\"quote\\\"\\n\"}");
	cr_assert_eq(http_response(&out, &len, 400, body, true, NULL), 0);
	cr_assert_eq(len, strlen(out));
	cr_assert(strstr(out, "HTTP/1.1 400 Bad Request\r\n") == out);
	cr_assert(strstr(out, "Content-Type: application/json\r\n"));
	cr_assert_not(strstr(out, "Connection: close"));
	cr_assert(strstr(out, "\r\n\r\n{\"fault_message\""));
	free(out);
	cr_assert_eq(http_response(&out, &len, 204, NULL, false, NULL), 0);
	cr_assert_str_eq(out, "HTTP/1.1 204 No Content\r\nServer: ember\r\nContent-Length: 0\r\n"
			      "Connection: close\r\n\r\n");
	free(out);
	free(body);
}

Test(http, a_fault_message_with_bytes_that_are_not_utf8_is_still_json)
{
	char *body = http_fault_body("Invalid request method and/or path: PUT /a\xff\xfe"
				     "b, caf\xc3\xa9.");

	cr_assert_not_null(body);
	cr_assert_str_eq(body, "{\"fault_message\":\"Invalid request method and/or path: PUT "
			       "/a??b, caf??.\"}");
	free(body);
	body = http_fault_body("caf\xc3\xa9");
	cr_assert_str_eq(body, "{\"fault_message\":\"caf\xc3\xa9\"}", "valid UTF-8 is kept");
	free(body);
}

Test(http, header_values_are_found_by_any_case_and_trimmed)
{
	char v[16];

	conn.keep_headers = true;
	cr_assert_eq(feed("PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n"
			  "x-METADATA-token-ttl-seconds:  60 \r\nX-Empty:\r\n"
			  "X-Long: 0123456789abcdefgh\r\n\r\n"),
		     0);
	next();
	cr_assert_eq(http_header_value(&req, "X-metadata-token-ttl-seconds", v, sizeof(v)), 2);
	cr_assert_str_eq(v, "60");
	cr_assert_eq(http_header_value(&req, "host", v, sizeof(v)), 1);
	cr_assert_eq(http_header_value(&req, "X-Empty", v, sizeof(v)), 0);
	cr_assert_eq(http_header_value(&req, "X-metadata-token", v, sizeof(v)), -ENOENT);
	cr_assert_eq(http_header_value(&req, "X-Long", v, sizeof(v)), -ENOSPC, "too long for v");
	cr_assert_eq(http_header_value(&req, "Hos", v, sizeof(v)), -ENOENT,
		     "a prefix is not a name");
}
