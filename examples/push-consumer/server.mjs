// A main container that is told of every leadership change: leaderhook runs with
//   --hook=http://localhost:8080/leaderhook
// and POSTs one JSON event per change:
//   {"type":"leadership.started"|"leadership.stopped"|"leader.changed","timestamp":"…",
//    "data":{"election","namespace","lock","leader","previousLeader","transitions","observer","isLeader"}}
// It answers on :8080 with "Master is <leader>" like the pull consumer, and runs leader-only work only while it leads.
//
// If WEBHOOK_SECRET_FILE names a file of Standard Webhooks secrets (whsec_…, one per line, `#` comments; the same file
// leaderhook signs with, given as --hook-secret-file), requests must carry a valid webhook-signature (HMAC-SHA256 over
// "id.timestamp.body", timestamp within 5 minutes); unsigned or forged requests get 401.
// Plain Node.js, no dependencies. PORT and LEADER_URL override the defaults.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

const PORT = Number(process.env.PORT || 8080);
const LEADER_URL = process.env.LEADER_URL || 'http://localhost:4040';
const HOOK_PATH = process.env.HOOK_PATH || '/leaderhook';
const SECRETS = process.env.WEBHOOK_SECRET_FILE
  ? readFileSync(process.env.WEBHOOK_SECRET_FILE, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((secret) => Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
  : [];
const TOLERANCE_S = 5 * 60;

const state = { leader: '', isLeader: false, transitions: -1, at: 0, source: 'none' };
const seen = new Set(); // webhook-ids already applied (a retried delivery carries the same id)

function apply(data, at, source) {
  // Deliveries may be retried; never go back to an older state.
  if (data.transitions < state.transitions || (data.transitions === state.transitions && at < state.at)) return;
  const wasLeader = state.isLeader;
  Object.assign(state, { leader: data.leader, isLeader: data.isLeader, transitions: data.transitions, at, source });
  if (state.isLeader && !wasLeader)
    console.log(`became leader (transitions ${state.transitions}): starting leader-only work`);
  if (!state.isLeader && wasLeader) console.log('stopped leading: stopping leader-only work');
  console.log(`leader is now ${JSON.stringify(state.leader)} (via ${source})`);
}

function verify(headers, body) {
  if (SECRETS.length === 0) return true;
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = String(headers['webhook-signature'] || '').split(' ');
  if (!id || !timestamp || Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_S) return false;
  for (const secret of SECRETS) {
    const expected = Buffer.from(
      `v1,${createHmac('sha256', secret).update(`${id}.${timestamp}.${body}`).digest('base64')}`,
    );
    for (const signature of signatures) {
      const given = Buffer.from(signature);
      if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
    }
  }
  return false;
}

// Until the first hook arrives, ask once who leads (leaderhook's /leader has the same fields).
async function seed() {
  try {
    const response = await fetch(new URL('/leader', LEADER_URL));
    const body = await response.json();
    if (state.source === 'none') apply(body, 0, 'GET /leader');
  } catch (e) {
    console.log(`no answer from ${LEADER_URL} yet (${e.message}); waiting for hooks`);
  }
}

const server = http.createServer((request, response) => {
  if (request.method === 'POST' && request.url === HOOK_PATH) {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (!verify(request.headers, body)) {
        response.writeHead(401).end('bad signature\n');
        return;
      }
      let event;
      try {
        event = JSON.parse(body);
      } catch {
        response.writeHead(400).end('not JSON\n');
        return;
      }
      if (!event || typeof event.data !== 'object' || typeof event.data.leader !== 'string') {
        response.writeHead(400).end('not a leaderhook event\n');
        return;
      }
      const id = request.headers['webhook-id'];
      if (!id || !seen.has(id)) {
        if (id) seen.add(id);
        apply(event.data, Date.parse(event.timestamp) || Date.now(), event.type);
      }
      response.writeHead(204).end(); // answer fast: leaderhook waits for the status
    });
    return;
  }
  if (request.url === '/state') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state));
    return;
  }
  response.writeHead(200);
  response.end(`Master is ${state.leader}`);
});

server.listen(PORT, () => void seed());
process.on('SIGTERM', () => server.close(() => process.exit(0)));
