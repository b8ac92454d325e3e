// SPDX-License-Identifier: Apache-2.0
/* The guest agent's host-side client against a fake agent: a socketpair
 * whose far end holds the agent's answer, and a Unix-socket listener that
 * plays ember's CONNECT handshake. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent_client.h"

static struct agent_conn conn;
static int agent; /* the fake agent's end */
static struct ember_err err;
static struct agent_result res;

static void setup(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	conn.fd = sv[0];
	agent = sv[1];
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	agent_result_free(&res);
	agent_close(&conn);
	close(agent);
}

/* The agent's answer, there before the client asks. */
static void answer(const char *s, size_t len)
{
	cr_assert_eq(write(agent, s, len), (ssize_t)len);
}

/* What the client sent, all of it. */
static size_t sent(char *buf, size_t size)
{
	ssize_t n;

	fcntl(agent, F_SETFL, O_NONBLOCK);
	n = read(agent, buf, size - 1);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return (size_t)n;
}

TestSuite(agent_invoke, .init = setup, .fini = teardown);

Test(agent_invoke, sends_the_request_and_returns_stdout_and_status)
{
	char buf[64];

	answer("OK 0 5 0\nhello", 14);
	cr_assert_eq(agent_invoke(&conn, "echo", "hello", 5, &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.status, 0);
	cr_assert_eq(res.out_len, 5);
	cr_assert_str_eq(res.out, "hello");
	cr_assert_eq(res.err_len, 0);
	cr_assert_eq(sent(buf, sizeof(buf)), 16);
	cr_assert_str_eq(buf, "RUN echo 5\nhello");
}

Test(agent_invoke, returns_a_failing_functions_status_and_stderr)
{
	answer("OK 3 2 4\nabfail", 15);
	cr_assert_eq(agent_invoke(&conn, "fail", "", 0, &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.status, 3);
	cr_assert_str_eq(res.out, "ab");
	cr_assert_eq(res.err_len, 4);
	cr_assert_str_eq(res.err, "fail");
}

Test(agent_invoke, keeps_output_with_nul_bytes)
{
	answer("OK 0 3 0\na\0b", 12);
	cr_assert_eq(agent_invoke(&conn, "echo", "a\0b", 3, &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.out_len, 3);
	cr_assert_eq(memcmp(res.out, "a\0b", 3), 0);
}

Test(agent_invoke, two_requests_on_one_connection)
{
	answer("OK 0 1 0\nxOK 1 0 1\ny", 21);
	cr_assert_eq(agent_invoke(&conn, "a", "x", 1, &res, &err), 0, "%s", err.msg);
	cr_assert_str_eq(res.out, "x");
	agent_result_free(&res);
	cr_assert_eq(agent_invoke(&conn, "b", "", 0, &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.status, 1);
	cr_assert_str_eq(res.err, "y");
}

Test(agent_invoke, passes_the_agents_error_up)
{
	answer("ERR no function /fn/nope\n", 25);
	cr_assert_eq(agent_invoke(&conn, "nope", "", 0, &res, &err), -EINVAL);
	cr_assert(strstr(err.msg, "no function /fn/nope"), "%s", err.msg);
	cr_assert_null(res.out);
}

Test(agent_invoke, refuses_a_malformed_answer)
{
	answer("OK zero\n", 8);
	cr_assert_eq(agent_invoke(&conn, "echo", "", 0, &res, &err), -EPROTO);
	cr_assert(strstr(err.msg, "unexpected answer"), "%s", err.msg);
}

Test(agent_invoke, refuses_an_answer_longer_than_the_cap)
{
	answer("OK 0 99999999999 0\n", 19);
	cr_assert_eq(agent_invoke(&conn, "echo", "", 0, &res, &err), -EPROTO);
	cr_assert_null(res.out);
}

Test(agent_invoke, refuses_an_endless_header_line)
{
	char line[600];

	memset(line, 'O', sizeof(line));
	answer(line, sizeof(line));
	cr_assert_eq(agent_invoke(&conn, "echo", "", 0, &res, &err), -EPROTO);
	cr_assert(strstr(err.msg, "too long"), "%s", err.msg);
}

Test(agent_invoke, reports_a_connection_closed_mid_answer)
{
	answer("OK 0 10 0\nabc", 13);
	shutdown(agent, SHUT_WR);
	cr_assert_eq(agent_invoke(&conn, "echo", "", 0, &res, &err), -ECONNRESET);
	cr_assert(strstr(err.msg, "closed"), "%s", err.msg);
	cr_assert_null(res.out, "a failed call leaves no result behind");
}

Test(agent_invoke, refuses_a_name_that_breaks_the_header_and_sends_nothing)
{
	char buf[16];

	cr_assert_eq(agent_invoke(&conn, "a b", "", 0, &res, &err), -EINVAL);
	cr_assert_eq(agent_invoke(&conn, "a\nRUN x", "", 0, &res, &err), -EINVAL);
	cr_assert_eq(sent(buf, sizeof(buf)), 0);
}

Test(agent_invoke, http_start_asks_for_the_port_and_reads_the_outcome)
{
	char buf[128];

	answer("OK 0 0 0\n", strlen("OK 0 0 0\n"));
	cr_assert_eq(agent_http_start(&conn, 8080, 30000, &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.status, 0, "the server answers");
	sent(buf, sizeof(buf));
	cr_assert_str_eq(buf, "HTTP START 8080 30000\n");
}

Test(agent_invoke, http_start_of_a_server_that_died_brings_its_output)
{
	answer("OK 3 12 0\nbind failed\n", strlen("OK 3 12 0\nbind failed\n"));
	cr_assert_eq(agent_http_start(&conn, 80, 1000, &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.status, 3);
	cr_assert_str_eq(res.out, "bind failed\n");
}

Test(agent_invoke, http_log_reads_the_output)
{
	char buf[64];

	answer("OK 1 5 0\noops\n", strlen("OK 1 5 0\noops\n"));
	cr_assert_eq(agent_http_log(&conn, &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.status, 1, "the server is gone");
	cr_assert_str_eq(res.out, "oops\n");
	sent(buf, sizeof(buf));
	cr_assert_str_eq(buf, "HTTP LOG\n");
}

Test(agent_invoke, proxy_wants_ok_then_the_connection_is_the_servers)
{
	char buf[64];

	answer("OK\nHTTP/1.1 200 OK\r\n", strlen("OK\nHTTP/1.1 200 OK\r\n"));
	cr_assert_eq(agent_proxy(&conn, 8080, &err), 0, "%s", err.msg);
	sent(buf, sizeof(buf));
	cr_assert_str_eq(buf, "PROXY 8080\n");
	cr_assert_eq(read(conn.fd, buf, 17), 17, "the server's bytes follow, unread");
	cr_assert_eq(memcmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0);
}

Test(agent_invoke, proxy_passes_a_refusal_up)
{
	answer("ERR cannot connect to the function's port 81: Connection refused\n",
	       strlen("ERR cannot connect to the function's port 81: Connection refused\n"));
	cr_assert_eq(agent_proxy(&conn, 81, &err), -ECONNREFUSED);
	cr_assert(strstr(err.msg, "port 81"), "%s", err.msg);
	teardown();
	setup();
	answer("what\n", strlen("what\n"));
	cr_assert_eq(agent_proxy(&conn, 81, &err), -EPROTO);
}

Test(agent_invoke, stop_sends_stop_and_wants_ok)
{
	char buf[16];

	answer("OK\n", 3);
	cr_assert_eq(agent_stop(&conn, &err), 0, "%s", err.msg);
	sent(buf, sizeof(buf));
	cr_assert_str_eq(buf, "STOP\n");
}

Test(agent_invoke, stop_refuses_another_answer)
{
	answer("NO\n", 3);
	cr_assert_eq(agent_stop(&conn, &err), -EPROTO);
}

/* --- the CONNECT handshake through a Unix socket --- */

struct fake_ember {
	char path[108];
	const char *reply; /* NULL: close without answering */
	unsigned delay_ms; /* before the socket exists */
	char got[64];
	atomic_int listening;
	pthread_t thread;
};

static void *fake_ember_main(void *arg)
{
	struct fake_ember *f = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM, 0), c;
	ssize_t n;

	usleep(f->delay_ms * 1000);
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0)
		return NULL;
	atomic_store(&f->listening, 1);
	c = accept(l, NULL, NULL);
	n = read(c, f->got, sizeof(f->got) - 1);
	f->got[n > 0 ? n : 0] = '\0';
	if (f->reply)
		n = write(c, f->reply, strlen(f->reply));
	close(c);
	close(l);
	return NULL;
}

static void fake_ember_start(struct fake_ember *f, const char *reply, unsigned delay_ms)
{
	char dir[] = "/tmp/ember-agent-test.XXXXXX";

	cr_assert_not_null(mkdtemp(dir));
	snprintf(f->path, sizeof(f->path), "%s/v.sock", dir);
	f->reply = reply;
	f->delay_ms = delay_ms;
	atomic_init(&f->listening, 0);
	cr_assert_eq(pthread_create(&f->thread, NULL, fake_ember_main, f), 0);
	/* Without a delay, the socket listens before the client tries. */
	for (int i = 0; !delay_ms && i < 2000 && !atomic_load(&f->listening); i++)
		usleep(1000);
}

static void fake_ember_join(struct fake_ember *f)
{
	pthread_join(f->thread, NULL);
	unlink(f->path);
	*strrchr(f->path, '/') = '\0';
	rmdir(f->path);
}

Test(agent_connect, does_the_handshake_and_keeps_the_local_port)
{
	struct fake_ember f;
	struct agent_conn c;

	fake_ember_start(&f, "OK 1073741824\n", 0);
	cr_assert_eq(agent_connect(&c, f.path, 1024, 2000, &err), 0, "%s", err.msg);
	cr_assert_eq(c.local_port, 1073741824u);
	agent_close(&c);
	fake_ember_join(&f);
	cr_assert_str_eq(f.got, "CONNECT 1024\n");
}

Test(agent_connect, waits_for_a_socket_that_comes_late)
{
	struct fake_ember f;
	struct agent_conn c;

	fake_ember_start(&f, "OK 7\n", 300);
	cr_assert_eq(agent_connect(&c, f.path, 1024, 3000, &err), 0, "%s", err.msg);
	agent_close(&c);
	fake_ember_join(&f);
}

Test(agent_connect, fails_when_the_guest_does_not_accept)
{
	struct fake_ember f;
	struct agent_conn c;

	fake_ember_start(&f, NULL, 0);
	cr_assert_eq(agent_connect(&c, f.path, 1024, 0, &err), -ECONNRESET);
	cr_assert(strstr(err.msg, "vsock port 1024"), "%s", err.msg);
	cr_assert_eq(c.fd, -1, "no descriptor is left open");
	fake_ember_join(&f);
}

Test(agent_connect, refuses_a_strange_handshake_answer)
{
	struct fake_ember f;
	struct agent_conn c;

	fake_ember_start(&f, "HELLO\n", 0);
	cr_assert_eq(agent_connect(&c, f.path, 1024, 0, &err), -EPROTO);
	fake_ember_join(&f);
}

Test(agent_connect, reports_a_missing_socket_and_a_path_too_long)
{
	struct agent_conn c;
	char longpath[200];

	cr_assert_eq(agent_connect(&c, "/nonexistent/ember.sock", 1024, 0, &err), -ENOENT);
	cr_assert(strstr(err.msg, "/nonexistent/ember.sock"), "%s", err.msg);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	cr_assert_eq(agent_connect(&c, longpath, 1024, 0, &err), -ENAMETOOLONG);
}

/* The time allowed bounds the tries themselves, not only the pauses between
 * them: a guest that never answers costs wait_ms (a second at least), not a
 * full handshake timeout per try for as many tries as the pauses allow. */
Test(agent_connect, gives_up_in_the_time_allowed_when_no_try_is_answered)
{
	char dir[] = "/tmp/ember-agent-test.XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec t0, t1;
	struct agent_conn c;
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	long ms;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/v.sock", dir);
	/* listens and never accepts: every handshake waits for an answer */
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 64), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(agent_connect(&c, sa.sun_path, 1024, 1500, &err), -ETIMEDOUT, "%s", err.msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_geq(ms, 1400, "it tried for the time allowed (%ld ms)", ms);
	cr_assert_lt(ms, 5000, "and stopped then, not after a 10 s handshake timeout (%ld ms)", ms);
	cr_assert_eq(c.fd, -1);
	close(l);
	unlink(sa.sun_path);
	rmdir(dir);
}
