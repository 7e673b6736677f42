// Peer load generator: Node.js 20 + undici Pool. Contract: benchmarks/peers/README.md.
// Run: npm ci && node loadgen.mjs --url URL --requests N --workspaces W --connections C
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const CONTENDER = 'node-undici';
// Exit codes shared by the three peers.
const EXIT_USAGE = 2;
const EXIT_UNREACHABLE = 3;
const EXIT_TIMEOUT = 4;
// Refresh a token this long before it expires (x/oauth2's expiryDelta).
const EXPIRY_SKEW_MS = 10_000;
const GRAPHQL_BODY = '{"query":"query { me { id } }"}';

function fail(code, message) {
  process.stderr.write(`loadgen: ${message}\n`);
  process.exit(code);
}

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        requests: { type: 'string' },
        workspaces: { type: 'string' },
        connections: { type: 'string' },
        'in-flight': { type: 'string' },
        http2: { type: 'string', default: 'off' },
        'ca-file': { type: 'string' },
        'client-id': { type: 'string', default: 'bench-client' },
        'client-secret': { type: 'string', default: 'bench-secret' },
        'redirect-uri': { type: 'string' },
        'timeout-s': { type: 'string', default: '300' },
      },
    }));
  } catch (e) {
    fail(EXIT_USAGE, e.message);
  }
  const positive = (name) => {
    const s = values[name];
    if (s === undefined || !/^[0-9]+$/.test(s) || Number(s) < 1 || !Number.isSafeInteger(Number(s))) {
      fail(EXIT_USAGE, `--${name} must be a positive integer, got ${JSON.stringify(s)}`);
    }
    return Number(s);
  };
  let url;
  try {
    url = new URL(values.url ?? '');
  } catch {
    fail(EXIT_USAGE, `--url must be an http:// or https:// URL, got ${JSON.stringify(values.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(EXIT_USAGE, `--url must be an http:// or https:// URL, got ${JSON.stringify(values.url)}`);
  }
  if (values.http2 !== 'auto' && values.http2 !== 'off') {
    fail(EXIT_USAGE, `--http2 takes auto or off, got ${JSON.stringify(values.http2)}`);
  }
  const timeoutS = Number(values['timeout-s']);
  if (!(timeoutS > 0) || !Number.isFinite(timeoutS)) {
    fail(EXIT_USAGE, '--timeout-s must be a positive number');
  }
  let ca;
  if (values['ca-file'] !== undefined) {
    try {
      ca = readFileSync(values['ca-file']);
    } catch (e) {
      fail(EXIT_USAGE, `cannot read --ca-file: ${e.message}`);
    }
  }
  return {
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    requests: positive('requests'),
    workspaces: positive('workspaces'),
    connections: positive('connections'),
    inFlight: values['in-flight'] === undefined ? positive('connections') : positive('in-flight'),
    http2: values.http2 === 'auto',
    ca,
    clientId: values['client-id'],
    clientSecret: values['client-secret'],
    redirectUri: values['redirect-uri'],
    timeoutMs: timeoutS * 1000,
  };
}

const opt = parseOptions();
const programStart = performance.now();

// One keep-alive pool of at most C connections for all requests: HTTP/1.1 without pipelining,
// or with --http2 auto h2 when the server picks it by ALPN (allowH2). undici's `pipelining`
// (default 1) caps the requests a connection runs at once over h2 too, so allowH2 alone makes
// one call per connection per round trip; with --http2 auto it is K, leaving the cap on streams
// to maxConcurrentStreams (100, then the server's SETTINGS_MAX_CONCURRENT_STREAMS). Against a
// server without h2 that would pipeline HTTP/1.1: --http2 auto is for h2 servers.
const pool = new Pool(opt.origin, {
  connections: opt.connections,
  ...(opt.http2 ? { allowH2: true, pipelining: opt.inFlight } : { pipelining: 1 }),
  ...(opt.ca ? { connect: { ca: opt.ca } } : {}),
});

let tokenRequests = 0;

async function fetchToken(ws) {
  tokenRequests++;
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: opt.clientId,
    client_secret: opt.clientSecret,
    subject: ws,
  });
  if (opt.redirectUri !== undefined) form.set('redirect_uri', opt.redirectUri);
  const { statusCode, body } = await pool.request({
    path: `${opt.basePath}/oauth/token`,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form.toString(),
  });
  const text = await body.text();
  if (statusCode !== 200) throw new Error(`token: HTTP ${statusCode}`);
  const json = JSON.parse(text);
  if (typeof json.access_token !== 'string') throw new Error('token: no access_token');
  const expiresIn = Number(json.expires_in);
  return {
    token: json.access_token,
    // No or bad expires_in: treat as non-expiring, as x/oauth2 does.
    expiresAt: expiresIn > 0 ? performance.now() + expiresIn * 1000 : Infinity,
  };
}

// Single flight: one promise per workspace, shared by every concurrent caller;
// dropped on failure (so a later call retries) and replaced once expired.
const tokens = new Map();

function getToken(ws) {
  const entry = tokens.get(ws);
  if (entry && (entry.expiresAt === undefined || entry.expiresAt - EXPIRY_SKEW_MS > performance.now())) {
    return entry.promise;
  }
  const fresh = { expiresAt: undefined, promise: undefined };
  fresh.promise = fetchToken(ws).then(
    (t) => {
      fresh.expiresAt = t.expiresAt;
      return t.token;
    },
    (e) => {
      if (tokens.get(ws) === fresh) tokens.delete(ws);
      throw e;
    },
  );
  tokens.set(ws, fresh);
  return fresh.promise;
}

async function graphql(ws) {
  const token = await getToken(ws);
  const { statusCode, body } = await pool.request({
    path: `${opt.basePath}/public/graphql`,
    method: 'POST',
    // A query is a read, safe to repeat. Over h2 undici 7.30.2 holds back a request not marked
    // idempotent while any other runs on its connection (client-h2.js, busy()): one POST per
    // connection per round trip. No effect on HTTP/1.1 without pipelining.
    ...(opt.http2 ? { idempotent: true } : {}),
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body: GRAPHQL_BODY,
  });
  if (statusCode !== 200) {
    await body.dump(); // free the connection for reuse
    return false;
  }
  const doc = await body.json();
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc) &&
    Object.hasOwn(doc, 'data') && !Object.hasOwn(doc, 'errors');
}

// Fail fast (exit 3) when the origin is unreachable or its certificate untrusted;
// any HTTP answer will do.
async function preflight() {
  try {
    const { body } = await pool.request({
      path: `${opt.basePath}/`,
      method: 'GET',
      signal: AbortSignal.timeout(Math.min(10_000, opt.timeoutMs)),
    });
    await body.dump();
  } catch (e) {
    fail(EXIT_UNREACHABLE, `origin ${opt.origin} unreachable: ${e.cause?.message ?? e.message}`);
  }
}

// Nearest-rank percentile over the calls that finished (successful or not).
function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.max(0, Math.ceil((p / 100) * sorted.length) - 1);
  return round(sorted[i], 4);
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const latencies = new Float64Array(opt.requests);
let completed = 0;
let failures = 0;
let next = 0;
let firstStart;
let lastEnd;

function report() {
  const wallMs = (lastEnd ?? performance.now()) - (firstStart ?? performance.now());
  const sorted = latencies.slice(0, completed).sort();
  const wallS = wallMs / 1000;
  const line = {
    contender: CONTENDER,
    requests: opt.requests,
    failures: failures + (opt.requests - completed),
    token_requests: tokenRequests,
    wall_s: round(wallS, 6),
    req_s: wallS > 0 ? round(opt.requests / wallS, 1) : 0,
    p50_ms: percentile(sorted, 50),
    p99_ms: percentile(sorted, 99),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function worker() {
  for (;;) {
    const k = next++;
    if (k >= opt.requests) return;
    const t0 = performance.now();
    let ok = false;
    try {
      ok = await graphql(`wks_bench${k % opt.workspaces}`);
    } catch {
      ok = false;
    }
    const t1 = performance.now();
    latencies[completed++] = t1 - t0;
    if (!ok) failures++;
    lastEnd = t1;
  }
}

const deadline = setTimeout(() => {
  lastEnd = undefined; // the run did not finish: wall time runs to now
  report();
  process.stderr.write(`loadgen: timed out after ${opt.timeoutMs / 1000} s; unfinished calls counted as failures\n`);
  process.exit(EXIT_TIMEOUT);
}, Math.max(0, opt.timeoutMs - (performance.now() - programStart)));

await preflight();
firstStart = performance.now();
await Promise.all(Array.from({ length: opt.inFlight }, worker));
clearTimeout(deadline);
report();
await pool.close();
