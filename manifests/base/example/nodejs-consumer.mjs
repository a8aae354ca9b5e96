// The leader-elector 0.4 sidecar consumer, unchanged in behaviour: every 5 s it asks the sidecar at
// http://localhost:4040 who the master is, and answers every request on :8080 with "Master is <name>".
// It works the same against leader-elector 0.4 and leaderhook (`GET /` → {"name":"<leader>"}).
// Plain Node.js, no dependencies. LEADER_URL and PORT override the defaults (for tests).
import http from 'node:http';

const LEADER_URL = process.env.LEADER_URL || 'http://localhost:4040';
const PORT = Number(process.env.PORT || 8080);

// What the sidecar last said: {"name":"<leader>"}.
let master = {};

function updateMaster() {
  const req = http.get(new URL('/', LEADER_URL), (response) => {
    let data = '';
    response.setEncoding('utf8');
    response.on('data', (piece) => {
      data += piece;
    });
    response.on('end', () => {
      try {
        master = JSON.parse(data);
      } catch (e) {
        console.log(`problem with response: ${e.message}`);
      }
    });
  });
  req.on('error', (e) => {
    console.log(`problem with request: ${e.message}`);
  });
}

updateMaster();
setInterval(updateMaster, 5000);

http
  .createServer((request, response) => {
    response.writeHead(200);
    response.end(`Master is ${master.name}`);
  })
  .listen(PORT);
