// A main container that follows leaderhook's /watch stream (Server-Sent Events): `event: state` on connect, then
// `started`, `stopped` or `leader-changed`, each with the /leader JSON as data. No polling delay, no hook endpoint.
// Reconnects with back-off when the stream ends. Answers on :8080 with "Master is <leader>".
// Plain Node.js, no dependencies. LEADER_URL and PORT override the defaults.
import http from 'node:http';

const LEADER_URL = process.env.LEADER_URL || 'http://localhost:4040';
const PORT = Number(process.env.PORT || 8080);

let current = { leader: '', isLeader: false };
let connected = false;

function onEvent(event, data) {
  let body;
  try {
    body = JSON.parse(data);
  } catch {
    return;
  }
  const wasLeader = current.isLeader;
  current = body;
  if (body.isLeader && !wasLeader) console.log('became leader: starting leader-only work');
  if (!body.isLeader && wasLeader) console.log('stopped leading: stopping leader-only work');
  console.log(`${event}: leader is ${JSON.stringify(body.leader)}`);
}

async function follow() {
  let delay = 500;
  for (;;) {
    try {
      const response = await fetch(new URL('/watch', LEADER_URL), { headers: { accept: 'text/event-stream' } });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      connected = true;
      delay = 500;
      let buffer = '';
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        // Events are separated by a blank line; lines are "field: value"; ":" starts a comment (keep-alive).
        while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
          let event = 'message';
          const data = [];
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event = value;
            if (field === 'data') data.push(value);
          }
          if (data.length) onEvent(event, data.join('\n'));
        }
      }
      console.log('watch stream ended; reconnecting');
    } catch (e) {
      console.log(`watch failed (${e.message}); retrying in ${delay} ms`);
    }
    connected = false;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}

void follow();

http
  .createServer((request, response) => {
    if (request.url === '/state') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ connected, ...current }));
      return;
    }
    response.writeHead(200);
    response.end(`Master is ${current.leader}`);
  })
  .listen(PORT);
