// SPDX-License-Identifier: Apache-2.0
/*
 * ember-invoke's HTTP function commands, the binary itself (built beside
 * the unit tests) against a fake ember: a Unix socket that answers the
 * CONNECT handshake and then plays the guest agent.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/ember-invoke-test.XXXXXX";
static char sock[PATH_MAX], out[PATH_MAX], invoke[PATH_MAX];
static int lfd = -1;

struct agent_script {
	const char *answer_cmd; /* the answer to the command line */
	bool then_read;         /* read to EOF, then send `then_send` */
	const char *then_send;
	char cmd[128];      /* the command line the client sent */
	char request[1024]; /* what followed, to its EOF */
};

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	cr_assert_gt(n, 0);
	self[n] = '\0';
	/* build/tests/unit-tests -> build/ember-invoke */
	snprintf(invoke, sizeof(invoke), "%.4000s/../ember-invoke", dirname(self));
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%.80s/v.sock", dir);
	snprintf(out, sizeof(out), "%.4000s/out", dir);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
}

static void teardown(void)
{
	close(lfd);
	unlink(sock);
	unlink(out);
	rmdir(dir);
}

static void read_line(int fd, char *line, size_t size)
{
	size_t n = 0;

	while (n + 1 < size && read(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
}

static void *agent_main(void *arg)
{
	struct agent_script *s = arg;
	char hello[64];
	int c = accept(lfd, NULL, NULL);
	size_t n = 0;
	ssize_t r;

	read_line(c, hello, sizeof(hello));
	if (write(c, "OK 7\n", 5) != 5 || strcmp(hello, "CONNECT 1024"))
		goto out;
	read_line(c, s->cmd, sizeof(s->cmd));
	if (write(c, s->answer_cmd, strlen(s->answer_cmd)) < 0 || !s->then_read)
		goto out;
	while (n + 1 < sizeof(s->request) &&
	       (r = read(c, s->request + n, sizeof(s->request) - 1 - n)) > 0)
		n += (size_t)r;
	s->request[n] = '\0';
	if (write(c, s->then_send, strlen(s->then_send)) < 0)
		goto out;
out:
	close(c);
	return NULL;
}

/* Run `ember-invoke ARGS` with `in` on stdin: its exit status; its
 * stdout and stderr in `out`. */
static int run(struct agent_script *s, const char *in, const char *args)
{
	char cmd[PATH_MAX * 5];
	pthread_t t;
	int status;

	cr_assert_eq(pthread_create(&t, NULL, agent_main, s), 0);
	snprintf(cmd, sizeof(cmd), "printf '%s' | %s --uds %s %s >%s 2>&1", in, invoke, sock, args,
		 out);
	status = system(cmd);
	pthread_join(t, NULL);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void output(char *buf, size_t size)
{
	FILE *f = fopen(out, "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

TestSuite(ember_invoke, .init = setup, .fini = teardown);

Test(ember_invoke, proxy_sends_stdin_half_closes_and_prints_the_answer)
{
	struct agent_script s = { .answer_cmd = "OK\n",
				  .then_read = true,
				  .then_send = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" };
	char buf[256];

	cr_assert_eq(run(&s, "GET / HTTP/1.1\\r\\n\\r\\n", "--proxy 8080"), 0);
	cr_assert_str_eq(s.cmd, "PROXY 8080");
	cr_assert_str_eq(s.request, "GET / HTTP/1.1\r\n\r\n", "stdin, then EOF: %s", s.request);
	output(buf, sizeof(buf));
	cr_assert_str_eq(buf, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
}

Test(ember_invoke, proxy_refused_by_the_agent_is_125_with_its_reason)
{
	struct agent_script s = { .answer_cmd = "ERR cannot connect to the function's port 81\n" };
	char buf[256];

	cr_assert_eq(run(&s, "x", "--proxy 81"), 125);
	output(buf, sizeof(buf));
	cr_assert(strstr(buf, "port 81"), "%s", buf);
}

Test(ember_invoke, http_start_is_0_once_the_server_answers)
{
	struct agent_script s = { .answer_cmd = "OK 0 0 0\n" };

	cr_assert_eq(run(&s, "", "--http-start 8080 --start-timeout 500"), 0);
	cr_assert_str_eq(s.cmd, "HTTP START 8080 500");
}

Test(ember_invoke, http_start_of_a_failing_server_is_its_status_and_output)
{
	struct agent_script s = { .answer_cmd = "OK 3 6 0\nboom!\n" };
	char buf[256];

	cr_assert_eq(run(&s, "", "--http-start 8080"), 3);
	output(buf, sizeof(buf));
	cr_assert_str_eq(buf, "boom!\n");
}

Test(ember_invoke, one_command_at_a_time)
{
	char cmd[PATH_MAX * 3];

	snprintf(cmd, sizeof(cmd), "%s --uds %s --proxy 1 --stop >/dev/null 2>&1", invoke, sock);
	cr_assert_eq(WEXITSTATUS(system(cmd)), 2, "usage");
}
