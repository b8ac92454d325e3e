/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's HTTP functions: see fn_http.c. */
#ifndef EMBER_ROOTFS_FN_HTTP_H
#define EMBER_ROOTFS_FN_HTTP_H

/* Each answers on fd; -1 when fd is gone. */
/* HTTP START <port> <ms>: start the function's server, answer once it
 * accepts on 127.0.0.1:<port> (status 0) or has failed (its output). */
int fn_http_start(int fd, unsigned port, unsigned timeout_ms);
/* PROXY <port>: "OK", then fd and a connection to the server are one pipe. */
int fn_http_proxy(int fd, unsigned port);
/* HTTP LOG: the server's output so far (its last 64 KiB), and whether it runs. */
int fn_http_log(int fd);

#endif
