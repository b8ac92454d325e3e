// ember-fn test HTTP function (prepare --http 8080) on Node's http module,
// the counterpart of tests/fn/python-image/server.py: POST / and /echo
// answer JSON with a custom header, GET / is the health check, other paths
// are 404, POST /crash dies mid-request; "fresh" is false when a marker
// from an earlier request is there.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');

const MARKER = '/tmp/ember-fn-http-marker';
const PORT = Number(process.env.PORT || 8080);

function answer(res, status, obj) {
	const body = JSON.stringify(obj);
	res.writeHead(status, { 'Content-Type': 'application/json',
				'Content-Length': Buffer.byteLength(body),
				'X-Fn-Lang': 'node' });
	res.end(body);
}

function post(req, res, url, body) {
	if (url.pathname === '/crash') {
		process.stderr.write('crashing on purpose in ' + url.pathname + '\n',
				     () => process.exit(3));
		return;
	}
	if (url.pathname !== '/' && url.pathname !== '/echo')
		return answer(res, 404, { error: 'no route ' + url.pathname });
	const fresh = !fs.existsSync(MARKER);
	fs.appendFileSync(MARKER, 'x');
	const r = JSON.parse(body || '{}');
	const name = String(r.name || '').toLowerCase();
	answer(res, 200, {
		fresh, n: r.n, hello: name,
		digest: crypto.createHash('sha256').update(name).digest('hex').slice(0, 12),
		method: req.method, path: url.pathname,
		query: Object.fromEntries(url.searchParams),
		request_id: req.headers['x-request-id'] || null,
		cwd: process.cwd(), env: process.env.FN_MODE,
	});
}

http.createServer((req, res) => {
	const url = new URL(req.url, 'http://localhost');
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		if (req.method === 'POST')
			return post(req, res, url, Buffer.concat(chunks).toString());
		if (url.pathname === '/')
			return answer(res, 200, { ok: true });
		answer(res, 404, { error: 'no route ' + url.pathname });
	});
}).listen(PORT, '127.0.0.1', () => console.log('server: listening on port', PORT));
