// SPDX-License-Identifier: Apache-2.0
/*
 * MMDS as the guest sees it (Firecracker's mmds/mod.rs and token.rs): GET
 * of a path in the store, in IMDS text or JSON; V2 session tokens from
 * PUT /latest/api/token, required by GET; Firecracker's status codes and
 * messages. Transport-free: the network side hands over a parsed request.
 *
 * Tokens are 32 random bytes (getrandom), kept with their expiry in a
 * bounded table, not Firecracker's AES-GCM sealed expiry: the guest cannot
 * tell them apart, and a table needs no cipher (and no library for one).
 * A snapshot keeps no tokens, so a restored guest asks again, as it must
 * with Firecracker, whose key is new after a restore.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mmds.h"

#define TOKEN_PATH "/latest/api/token"

void mmds_guest_init(struct mmds_guest *g, bool v2, bool imds_compat)
{
	memset(g, 0, sizeof(*g));
	g->v2 = v2;
	g->imds_compat = imds_compat;
}

static int reply(struct mmds_response *out, int status, bool json, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int reply(struct mmds_response *out, int status, bool json, const char *fmt, ...)
{
	va_list ap;
	int n;

	out->status = status;
	out->json = json;
	va_start(ap, fmt);
	n = vasprintf(&out->body, fmt, ap);
	va_end(ap);
	if (n < 0) {
		out->body = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Equal strings in time that depends on the length only. */
static bool same_token(const char *a, const char *b)
{
	unsigned char diff = 0;
	size_t n = strlen(a);

	if (n != strlen(b))
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

static bool token_valid(const struct mmds_guest *g, const char *text, uint64_t now_ms)
{
	bool ok = false;

	if (strlen(text) != MMDS_TOKEN_LEN)
		return false;
	for (unsigned i = 0; i < MMDS_TOKENS_MAX; i++)
		ok |= g->tokens[i].expiry_ms > now_ms && same_token(g->tokens[i].text, text);
	return ok;
}

/* A free or expired slot, else the one that expires first. */
static struct mmds_token *slot(struct mmds_guest *g, uint64_t now_ms)
{
	struct mmds_token *best = &g->tokens[0];

	for (unsigned i = 0; i < MMDS_TOKENS_MAX; i++) {
		if (g->tokens[i].expiry_ms <= now_ms)
			return &g->tokens[i];
		if (g->tokens[i].expiry_ms < best->expiry_ms)
			best = &g->tokens[i];
	}
	return best;
}

static int new_token(struct mmds_guest *g, uint32_t ttl, uint64_t now_ms, const char **text)
{
	uint8_t raw[MMDS_TOKEN_BYTES];
	struct mmds_token *t = slot(g, now_ms);

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (unsigned i = 0; i < sizeof(raw); i++)
		snprintf(t->text + 2 * i, 3, "%02x", raw[i]);
	t->expiry_ms = now_ms + (uint64_t)ttl * 1000;
	*text = t->text;
	return 0;
}

/* "ttl" as Rust's u32 parse takes it: digits only (a leading '+' too). */
static bool parse_ttl(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '+')
		s++;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static int put_token(struct mmds_guest *g, const struct mmds_request *r, uint64_t now_ms,
		     struct mmds_response *out)
{
	const char *text;
	uint32_t ttl;
	int ret;

	if (r->forwarded_for)
		return reply(
		    out, 400, false,
		    "Invalid header. Reason: Unsupported header name. Key: X-Forwarded-For");
	if (strcmp(r->path, TOKEN_PATH))
		return reply(out, 404, false, "Resource not found: %s.", r->path);
	if (!r->ttl)
		return reply(
		    out, 400, false,
		    "Token time to live value not found. Use `X-metadata-token-ttl-seconds` "
		    "or `X-aws-ec2-metadata-token-ttl-seconds` header to specify the "
		    "token's lifetime.");
	if (!parse_ttl(r->ttl, &ttl))
		return reply(
		    out, 400, false, "Invalid header. Reason: Invalid value. Key:%s; Value:%s",
		    r->ttl_header ? r->ttl_header : "X-metadata-token-ttl-seconds", r->ttl);
	if (ttl < MMDS_TOKEN_TTL_MIN || ttl > MMDS_TOKEN_TTL_MAX)
		return reply(out, 400, false,
			     "Invalid time to live value provided for token: %u. Please provide a "
			     "value between %u and %u.",
			     ttl, MMDS_TOKEN_TTL_MIN, MMDS_TOKEN_TTL_MAX);
	ret = new_token(g, ttl, now_ms, &text);
	if (ret)
		return reply(out, 400, false, "Failed to generate a token.");
	snprintf(out->header, sizeof(out->header), "%s: %u",
		 r->ttl_header ? r->ttl_header : "X-metadata-token-ttl-seconds", ttl);
	return reply(out, 200, false, "%s", text);
}

static int get_value(const struct mmds_guest *g, const struct mmds_store *s,
		     const struct mmds_request *r, struct mmds_response *out)
{
	bool json = !g->imds_compat && r->accept && strstr(r->accept, "application/json");
	size_t n = strcspn(r->path, "?");
	char *path = strndup(r->path, n), *body;
	int e = ENOMEM;

	if (!path)
		return -ENOMEM;
	body = mmds_lookup(s, path, json, &e);
	free(path);
	if (body) {
		out->status = 200;
		out->json = json;
		out->body = body;
		return 0;
	}
	if (e == EPROTO)
		return reply(out, 501, false,
			     "Cannot retrieve value. The value has an unsupported type.");
	if (e == ENOENT)
		return reply(out, 404, false, "Resource not found: %.*s.", (int)n, r->path);
	return -ENOMEM;
}

static int get(struct mmds_guest *g, const struct mmds_store *s, const struct mmds_request *r,
	       uint64_t now_ms, struct mmds_response *out)
{
	bool valid = r->token && token_valid(g, r->token, now_ms);

	g->stats.rx_no_token += !r->token;
	g->stats.rx_invalid_token += r->token && !valid;
	if (g->v2 && !r->token)
		return reply(out, 401, false,
			     "No MMDS token provided. Use `X-metadata-token` or "
			     "`X-aws-ec2-metadata-token` header to specify the session token.");
	if (g->v2 && !valid)
		return reply(out, 401, false, "MMDS token not valid.");
	return get_value(g, s, r, out);
}

int mmds_guest_serve(struct mmds_guest *g, const struct mmds_store *s,
		     const struct mmds_request *req, uint64_t now_ms, struct mmds_response *out)
{
	memset(out, 0, sizeof(*out));
	if (!req->path[0] || req->path[0] != '/')
		return reply(out, 400, false, "Invalid URI.");
	if (!strcmp(req->method, "GET"))
		return get(g, s, req, now_ms, out);
	if (!strcmp(req->method, "PUT"))
		return put_token(g, req, now_ms, out);
	snprintf(out->header, sizeof(out->header), "Allow: GET, PUT");
	return reply(out, 405, false, "Not allowed HTTP method.");
}
