// SPDX-License-Identifier: Apache-2.0
/* The API server over a real Unix socket, with a handler that tells back
 * what it was asked: keep-alive, pipelining, split writes, errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server.h"

static struct api_server srv;
static char dir[] = "/tmp/ember-api-test.XXXXXX";
static char sock[API_PATH_MAX];

/* 200 {"got": "VERB PATH BODY"}, or 204 for PUT /empty. */
static void echo_handler(void *ctx, const struct http_request *req, struct api_reply *reply)
{
	(void)ctx;
	if (req->verb == HTTP_VERB_PUT && !strcmp(req->path, "/empty")) {
		reply->status = 204;
		return;
	}
	reply->status = 200;
	if (asprintf(&reply->body, "{\"got\": \"%s %s %s\"}", http_verb_name(req->verb), req->path,
		     req->body ? req->body : "-") < 0)
		reply->body = NULL;
}

static void setup(void)
{
	struct ember_err err = { 0 };

	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	cr_assert_eq(
	    api_server_start(
		&srv, &(struct api_server_config){ sock, 64, echo_handler, NULL, NULL }, &err),
	    0, "%s", err.msg);
}

static void teardown(void)
{
	api_server_stop(&srv);
	cr_assert_eq(access(sock, F_OK), -1, "the socket is removed");
	rmdir(dir);
}

TestSuite(api_server, .init = setup, .fini = teardown);

static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	return fd;
}

static void send_str(int fd, const char *s)
{
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Everything the server sends until it has sent `want` responses, or EOF. */
static char *receive(int fd, int want, bool *eof)
{
	static char buf[8192];
	size_t len = 0;
	int seen = 0;

	*eof = false;
	buf[0] = '\0';
	while (len < sizeof(buf) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		for (char *at = buf; (at = strstr(at, "HTTP/1.1 ")); at++)
			seen++;
		if (seen >= want && want > 0)
			break;
		seen = 0;
		if (poll(&p, 1, 2000) != 1)
			break;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			*eof = true;
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
	}
	buf[len] = '\0';
	return buf;
}

static bool closed_after(int fd)
{
	bool eof;

	receive(fd, 99, &eof);
	return eof;
}

Test(api_server, a_request_and_its_answer)
{
	int fd = client();
	bool eof;
	char *r;

	send_str(fd, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
	r = receive(fd, 1, &eof);
	cr_assert(strstr(r, "HTTP/1.1 200 OK\r\n") == r, "%s", r);
	cr_assert(strstr(r, "\r\n\r\n{\"got\": \"GET / -\"}"), "%s", r);
	close(fd);
}

Test(api_server, keep_alive_serves_several_requests_on_one_connection)
{
	int fd = client();
	bool eof;

	for (int i = 0; i < 3; i++) {
		send_str(fd, "PUT /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
		cr_assert(strstr(receive(fd, 1, &eof), "{\"got\": \"PUT /x {}\"}"));
		cr_assert_not(eof);
	}
	send_str(fd, "PUT /empty HTTP/1.1\r\n\r\n");
	cr_assert(strstr(receive(fd, 1, &eof), "HTTP/1.1 204 No Content\r\n"));
	close(fd);
}

Test(api_server, pipelined_requests_are_answered_in_order)
{
	int fd = client();
	bool eof;
	char *r, *a, *b;

	send_str(
	    fd, "GET /first HTTP/1.1\r\n\r\nPATCH /second HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	r = receive(fd, 2, &eof);
	a = strstr(r, "GET /first -");
	b = strstr(r, "PATCH /second {}");
	cr_assert(a && b && a < b, "%s", r);
	close(fd);
}

Test(api_server, a_request_split_across_writes)
{
	int fd = client();
	bool eof;

	send_str(fd, "PUT /split HTTP/1.1\r\nContent-Le");
	usleep(20000);
	send_str(fd, "ngth: 5\r\n\r\n{\"a");
	usleep(20000);
	send_str(fd, "\"}");
	char *r = receive(fd, 1, &eof);

	cr_assert(strstr(r, "PUT /split {\"a\"}"), "%s", r);
	close(fd);
}

Test(api_server, an_oversized_body_is_413_and_the_connection_closes)
{
	int fd = client();
	char *r;

	send_str(fd, "GET /ok HTTP/1.1\r\n\r\nPUT /big HTTP/1.1\r\nContent-Length: 65\r\n\r\n");
	r = receive(fd, 2, &(bool){ false });
	cr_assert(strstr(r, "GET /ok -"), "the request before is answered: %s", r);
	cr_assert(strstr(r, "HTTP/1.1 413 Payload Too Large\r\n"), "%s", r);
	cr_assert(strstr(r, "Connection: close\r\n"), "%s", r);
	cr_assert(strstr(r, "{\"fault_message\":\"request body of 65 bytes"), "%s", r);
	cr_assert(closed_after(fd));
	close(fd);
}

Test(api_server, garbage_is_400_then_closed)
{
	int fd = client();
	char *r;

	send_str(fd, "BLAH\r\n\r\n");
	r = receive(fd, 1, &(bool){ false });
	cr_assert(strstr(r, "HTTP/1.1 400 Bad Request\r\n") == r, "%s", r);
	cr_assert(closed_after(fd));
	close(fd);
}

Test(api_server, connection_close_is_honoured)
{
	int fd = client();
	char *r;

	send_str(fd, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
	r = receive(fd, 1, &(bool){ false });
	cr_assert(strstr(r, "Connection: close\r\n"), "%s", r);
	cr_assert(closed_after(fd));
	close(fd);
}

Test(api_server, many_clients_at_once)
{
	int fds[10];
	bool eof;

	for (int i = 0; i < 10; i++)
		fds[i] = client();
	for (int i = 9; i >= 0; i--) {
		char req[64], want[64];

		snprintf(req, sizeof(req), "GET /c%d HTTP/1.1\r\n\r\n", i);
		snprintf(want, sizeof(want), "GET /c%d -", i);
		send_str(fds[i], req);
		cr_assert(strstr(receive(fds[i], 1, &eof), want));
	}
	for (int i = 0; i < 10; i++)
		close(fds[i]);
}

Test(api_server, an_existing_path_is_refused_and_kept)
{
	struct api_server other;
	struct ember_err err = { 0 };

	cr_assert_eq(
	    api_server_start(
		&other, &(struct api_server_config){ sock, 64, echo_handler, NULL, NULL }, &err),
	    -EADDRINUSE);
	cr_assert(strstr(err.msg, sock), "%s", err.msg);
	cr_assert_eq(access(sock, F_OK), 0, "the running server's socket stays");
}
