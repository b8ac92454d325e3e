// ember-fn test function from a container image (Debian's nodejs): loads
// what a typical handler loads, reads a JSON request on stdin and answers
// JSON. Every request must run in a fresh VM: a marker left in /tmp by an
// earlier request fails this one.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');

const MARKER = '/tmp/ember-fn-marker';

const body = fs.readFileSync(0, 'utf8');
if (!body) // the warm-up request (ember-fn prepare) sends nothing
	process.exit(0);
if (fs.existsSync(MARKER)) {
	process.stderr.write(util.format('stale VM: request %s ran here before\n',
					 fs.readFileSync(MARKER, 'utf8')));
	process.exit(9);
}
const req = JSON.parse(body);
fs.writeFileSync(MARKER, String(req.n));
const name = String(req.name || '').toLowerCase().replace(/[^a-z]/g, '');
console.log(JSON.stringify({
	hello: name,
	n: req.n,
	digest: crypto.createHash('sha256').update(name).digest('hex').slice(0, 12),
	b64: Buffer.from(name).toString('base64'),
	query: new URLSearchParams({ name }).toString(),
	year_ok: new Date().getFullYear() >= 2024,
	cwd: process.cwd(),
	base: path.basename(process.cwd()),
	env: process.env.FN_MODE,
	cpus: os.cpus().length > 0,
	node: process.version,
}));
