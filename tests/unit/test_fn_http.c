// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP functions without a VM: serve's parser keeping a request's method
 * and headers, the request rebuilt for the function's server, and the
 * server's answer parsed in every framing a server uses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fn.h"
#include "http.h"

static struct fn_http_resp resp;

static void resp_setup(void)
{
	cr_assert_eq(fn_http_resp_init(&resp, false), 0);
}

static void resp_teardown(void)
{
	fn_http_resp_free(&resp);
}

static int feed(const char *s)
{
	return fn_http_resp_feed(&resp, s, strlen(s));
}

TestSuite(fn_http_request, .description = "serve's side");

Test(fn_http_request, serve_keeps_any_method_and_the_headers_as_sent)
{
	static const char req[] = "OPTIONS /fn/f/a/b?x=1 HTTP/1.1\r\nHost: h\r\n"
				  "X-Custom: one two\r\nX-Sp"
				  "lit: v1\r\n\r\n";
	struct http_conn c;
	struct http_request r;

	cr_assert_eq(http_conn_init(&c, 1024), 0);
	c.allow_any_method = c.keep_headers = true;
	cr_assert_eq(http_conn_feed(&c, req, 60), 0, "%s", c.error_msg);
	cr_assert_eq(http_conn_feed(&c, req + 60, sizeof(req) - 61), 0, "%s", c.error_msg);
	cr_assert(http_conn_next(&c, &r));
	cr_assert_str_eq(r.method, "OPTIONS");
	cr_assert_eq(r.verb, HTTP_VERB_OTHER);
	cr_assert_str_eq(r.path, "/fn/f/a/b?x=1");
	cr_assert_eq(r.headers_len, strlen("Host: h\r\nX-Custom: one two\r\nX-Split: v1\r\n"));
	cr_assert_eq(
	    memcmp(r.headers, "Host: h\r\nX-Custom: one two\r\nX-Split: v1\r\n", r.headers_len), 0,
	    "%.*s", (int)r.headers_len, r.headers);
	http_request_free(&r);
	http_conn_free(&c);
}

Test(fn_http_request, the_api_still_refuses_other_methods_and_keeps_no_headers)
{
	struct http_conn c;
	struct http_request r;

	cr_assert_eq(http_conn_init(&c, 1024), 0);
	cr_assert_eq(http_conn_feed(&c, "GET / HTTP/1.1\r\nA: b\r\n\r\n", 24), 0);
	cr_assert(http_conn_next(&c, &r));
	cr_assert_null(r.headers);
	cr_assert_str_eq(r.method, "GET");
	http_request_free(&r);
	cr_assert_lt(http_conn_feed(&c, "OPTIONS / HTTP/1.1\r\n\r\n", 22), 0);
	cr_assert_eq(c.error_status, 405);
	http_conn_free(&c);
}

Test(fn_http_request, rebuilt_without_hop_by_hop_fields_and_with_its_length)
{
	static const char hdrs[] =
	    "Host: example\r\nConnection: keep-alive\r\nX-A: 1\r\n"
	    "content-length: 999\r\nExpect: 100-continue\r\nKeep-Alive: 5\r\n"
	    "Content-Type: application/json\r\n";
	struct fn_http_req r = { .method = "POST",
				 .target = "/p?q=1",
				 .headers = hdrs,
				 .headers_len = strlen(hdrs),
				 .body = "{}",
				 .body_len = 2 };
	struct ember_err err = { 0 };
	size_t len;
	char *out;

	cr_assert_eq(fn_http_build(&r, &out, &len, &err), 0);
	out = realloc(out, len + 1);
	out[len] = '\0';
	cr_assert_str_eq(out, "POST /p?q=1 HTTP/1.1\r\nHost: example\r\nX-A: 1\r\n"
			      "Content-Type: application/json\r\nContent-Length: 2\r\n"
			      "Connection: close\r\n\r\n{}");
	free(out);
}

Test(fn_http_request, a_request_without_host_gets_one)
{
	struct fn_http_req r = { .method = "GET", .target = "/" };
	struct ember_err err = { 0 };
	size_t len;
	char *out;

	cr_assert_eq(fn_http_build(&r, &out, &len, &err), 0);
	cr_assert_eq(len, strlen("GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
				 "Connection: close\r\n\r\n"));
	cr_assert_eq(memcmp(out, "GET / HTTP/1.1\r\nHost: localhost\r\n", 33), 0);
	free(out);
}

TestSuite(fn_http_response, .init = resp_setup, .fini = resp_teardown);

Test(fn_http_response, content_length_in_pieces)
{
	cr_assert_eq(feed("HTTP/1.1 201 Made It\r\nX-Fn: py"), 0);
	cr_assert_eq(feed("thon\r\nContent-Length: 5\r\n\r\nhel"), 0);
	cr_assert_eq(feed("lo"), 1);
	cr_assert_eq(resp.status, 201);
	cr_assert_str_eq(resp.reason, "Made It");
	cr_assert_str_eq(resp.head, "X-Fn: python\r\nContent-Length: 5\r\n");
	cr_assert_eq(resp.body_len, 5);
	cr_assert_eq(memcmp(resp.body, "hello", 5), 0);
	cr_assert_eq(feed("trailing junk"), 1, "nothing after the answer counts");
}

Test(fn_http_response, chunked_is_joined)
{
	cr_assert_eq(feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
		     1);
	cr_assert_eq(resp.body_len, 5);
	cr_assert_eq(memcmp(resp.body, "abcde", 5), 0);
}

Test(fn_http_response, a_body_to_the_end_of_the_stream)
{
	cr_assert_eq(feed("HTTP/1.0 200 OK\r\n\r\nall of it"), 0);
	cr_assert_eq(fn_http_resp_feed(&resp, NULL, 0), 1, "%s", resp.error);
	cr_assert_eq(resp.body_len, 9);
}

Test(fn_http_response, continue_then_the_answer)
{
	cr_assert_eq(feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n"
			  "Content-Length: 0\r\n\r\n"),
		     1);
	cr_assert_eq(resp.status, 404);
	cr_assert_str_eq(resp.head, "Content-Length: 0\r\n");
}

Test(fn_http_response, the_answer_to_head_has_no_body)
{
	fn_http_resp_free(&resp);
	cr_assert_eq(fn_http_resp_init(&resp, true), 0);
	cr_assert_eq(feed("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"), 1);
	cr_assert_eq(resp.body_len, 0);
}

Test(fn_http_response, closed_mid_answer_is_epipe)
{
	cr_assert_eq(feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), 0);
	cr_assert_eq(fn_http_resp_feed(&resp, NULL, 0), -EPIPE);
	cr_assert(strstr(resp.error, "closed the connection"), "%s", resp.error);
	fn_http_resp_free(&resp);
	cr_assert_eq(fn_http_resp_init(&resp, false), 0);
	cr_assert_eq(fn_http_resp_feed(&resp, NULL, 0), -EPIPE, "no answer at all");
}

Test(fn_http_response, not_http_is_eproto)
{
	cr_assert_eq(feed("SSH-2.0-OpenSSH\r\n"), -EPROTO);
	cr_assert(strstr(resp.error, "not HTTP"), "%s", resp.error);
	cr_assert_eq(feed("HTTP/1.1 200 OK\r\n"), -EPROTO, "broken for good");
}

Test(fn_http_response, headers_over_the_cap_are_refused)
{
	char *big = malloc(FN_HTTP_HEAD_MAX + 64);

	cr_assert_eq(feed("HTTP/1.1 200 OK\r\nX-Big: "), 0);
	memset(big, 'a', FN_HTTP_HEAD_MAX + 63);
	big[FN_HTTP_HEAD_MAX + 63] = '\0';
	cr_assert_eq(feed(big), -EPROTO);
	cr_assert(strstr(resp.error, "response header"), "%s", resp.error);
	free(big);
}

Test(fn_http_response, exchange_over_a_socket)
{
	static const char answer[] = "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 3\r\n\r\ntea";
	struct ember_err err = { 0 };
	char got[64] = { 0 };
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(write(sv[1], answer, strlen(answer)), (ssize_t)strlen(answer));
	cr_assert_eq(fn_http_exchange(sv[0], "GET / HTTP/1.1\r\n\r\n", 18, &resp, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(read(sv[1], got, sizeof(got) - 1), 18, "the request went out");
	cr_assert_eq(resp.status, 418);
	close(sv[1]);
	fn_http_resp_free(&resp);
	cr_assert_eq(fn_http_resp_init(&resp, false), 0);
	cr_assert_eq(fn_http_exchange(sv[0], "x", 1, &resp, &err), -EPIPE, "peer gone: %s",
		     err.msg);
	close(sv[0]);
}
