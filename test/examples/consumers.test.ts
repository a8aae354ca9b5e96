/**
 * The example main containers against real leaderhook processes on the embedded Lease API: the leader-elector 0.4
 * pull consumer (unchanged), the /watch (SSE) consumer, and the --hook push consumer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { Child, get } from '../support/process.ts';
import { freePort, Replica, waitFor } from '../support/replica.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

let api: EmbeddedApi;
let scratch: string;
let kubeconfig: string;
const replicas: Replica[] = [];
const consumers: Child[] = [];

before(async () => {
  api = await startEmbeddedApi();
  scratch = mkdtempSync(join(tmpdir(), 'leaderhook-examples-'));
  kubeconfig = join(scratch, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
});

after(async () => {
  for (const consumer of consumers) await consumer.stop();
  for (const replica of replicas) await replica.stop();
  await api.close();
  rmSync(scratch, { recursive: true, force: true });
});

const FAST = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=250ms'];

async function replica(id: string, election: string, args: string[] = []): Promise<Replica> {
  const started = await Replica.start({ id, kubeconfig, election, args: [...FAST, ...args] });
  replicas.push(started);
  return started;
}

async function consumer(name: string, env: NodeJS.ProcessEnv, port?: number): Promise<{ child: Child; url: string }> {
  port ??= await freePort();
  const child = new Child(process.execPath, [join(EXAMPLES, name, 'server.mjs')], {
    cwd: join(EXAMPLES, name),
    env: { PATH: process.env.PATH ?? '', PORT: String(port), ...env },
  });
  consumers.push(child);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function says(url: string, expected: string, child: Child, timeoutMs = 20_000): Promise<void> {
  try {
    await waitFor(`"${expected}" from ${url}`, async () => (await get(url))?.body === expected, timeoutMs, 100);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; last answer ${JSON.stringify((await get(url))?.body)}\n--- consumer output ---\n${child.text()}`,
      { cause: error },
    );
  }
}

test('the leader-elector 0.4 Node.js consumer answers "Master is <leader>", and follows a failover', async () => {
  const a = await replica('pull-a', 'pull');
  await waitFor('pull-a leads', async () => (await a.leader())?.isLeader);
  const { child, url } = await consumer('nodejs-consumer', { LEADER_URL: a.url });
  await says(url, 'Master is pull-a', child);

  // A second replica takes over when the first one leaves (SIGTERM releases the lease); the consumer polls every 5 s.
  const b = await replica('pull-b', 'pull');
  await waitFor('pull-b follows', async () => (await b.leader())?.leader === 'pull-a');
  const consumerOfB = await consumer('nodejs-consumer', { LEADER_URL: b.url });
  await says(consumerOfB.url, 'Master is pull-a', consumerOfB.child);
  a.signal('SIGTERM');
  await a.exited;
  await waitFor('pull-b leads', async () => (await b.leader())?.isLeader);
  await says(consumerOfB.url, 'Master is pull-b', consumerOfB.child, 12_000);
});

test('the /watch consumer learns of a new leader at once', async () => {
  const [a, b] = await Promise.all([replica('watch-a', 'watch'), replica('watch-b', 'watch')]);
  const leader = await waitFor('a leader', async () => (await a.leader())?.leader || undefined);
  const follower = leader === 'watch-a' ? b : a;
  const departing = leader === 'watch-a' ? a : b;
  const { child, url } = await consumer('watch-consumer', { LEADER_URL: follower.url });
  await says(url, `Master is ${leader}`, child);
  const state = JSON.parse((await get(`${url}/state`))!.body) as { connected: boolean; isLeader: boolean };
  assert.equal(state.connected, true);
  assert.equal(state.isLeader, false);

  departing.signal('SIGTERM');
  await departing.exited;
  // Well under the pull consumer's 5 s poll: the stream carries the change as it happens.
  await says(url, `Master is ${follower.id}`, child, 4_000);
  const after = JSON.parse((await get(`${url}/state`))!.body) as { isLeader: boolean };
  assert.equal(after.isLeader, true);
});

test('the push consumer applies hook events, ignores repeats and stale ones, and checks Standard Webhooks signatures', async () => {
  const secret = `whsec_${Buffer.from('a-test-secret-of-32-bytes-length').toString('base64')}`;
  const secretFile = join(scratch, 'webhook-secret');
  writeFileSync(secretFile, `${secret}\n`);
  const { child, url } = await consumer('push-consumer', {
    LEADER_URL: 'http://127.0.0.1:9',
    WEBHOOK_SECRET_FILE: secretFile,
  });
  await waitFor('push consumer up', async () => (await get(url))?.status === 200);

  const signer = new Webhook(secret);
  const post = async (id: string, event: object, signed = true) => {
    const body = JSON.stringify(event);
    const timestamp = new Date();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    };
    if (signed) headers['webhook-signature'] = signer.sign(id, timestamp, body);
    return (await fetch(`${url}/leaderhook`, { method: 'POST', headers, body })).status;
  };
  const event = (type: string, leader: string, transitions: number, isLeader: boolean, timestamp: string) => ({
    type,
    timestamp,
    data: {
      election: 'push',
      namespace: 'default',
      lock: 'leases',
      leader,
      previousLeader: '',
      transitions,
      observer: 'push-a',
      isLeader,
    },
  });

  assert.equal(await post('evt_1', event('leadership.started', 'push-a', 1, true, '2026-01-01T00:00:01.000Z')), 204);
  await says(url, 'Master is push-a', child);
  assert.equal(
    await post('evt_forged', event('leader.changed', 'mallory', 9, false, '2026-01-01T00:00:09.000Z'), false),
    401,
  );
  assert.equal(await post('evt_old', event('leader.changed', 'push-z', 0, false, '2026-01-01T00:00:00.000Z')), 204);
  assert.equal(await post('evt_2', event('leadership.stopped', 'push-b', 2, false, '2026-01-01T00:00:02.000Z')), 204);
  await says(url, 'Master is push-b', child);
  // A retried delivery of an applied event changes nothing.
  assert.equal(await post('evt_1', event('leadership.started', 'push-a', 1, true, '2026-01-01T00:00:01.000Z')), 204);
  const state = JSON.parse((await get(`${url}/state`))!.body) as { leader: string; isLeader: boolean };
  assert.deepEqual([state.leader, state.isLeader], ['push-b', false]);
  assert.match(child.text(), /became leader/);
  assert.match(child.text(), /stopped leading/);
});

test('the push consumer receives a real leaderhook --hook', async () => {
  const port = await freePort();
  const { child, url } = await consumer('push-consumer', { LEADER_URL: 'http://127.0.0.1:9' }, port);
  await waitFor('push consumer up', async () => (await get(url))?.status === 200);
  await replica('hook-a', 'hook', [`--hook=http://127.0.0.1:${port}/leaderhook`]);
  await says(url, 'Master is hook-a', child);
  const state = JSON.parse((await get(`${url}/state`))!.body) as { isLeader: boolean; source: string };
  assert.equal(state.isLeader, true);
  assert.notEqual(state.source, 'GET /leader');
});

/** The deliveries a replica lists for its targets (GET /deliveries). */
async function deliveries(
  replica: Replica,
): Promise<Array<{ target: string; status: string; lastStatusCode?: number }>> {
  const body = (await (await fetch(`${replica.url}/deliveries`)).json()) as {
    deliveries: Array<{ target: string; status: string; lastStatusCode?: number }>;
  };
  return body.deliveries;
}

test('signed hooks: the push consumer verifies what --hook-secret-file signs, and refuses another secret', async () => {
  const secretFile = join(scratch, 'hook-secret');
  const secret = `whsec_${Buffer.from('a-hook-secret-of-32-bytes-length').toString('base64')}`;
  // The form a mounted Secret may take: a comment, the current secret.
  writeFileSync(secretFile, `# rotated 2026-11-01\n${secret}\n`);
  const otherFile = join(scratch, 'other-secret');
  writeFileSync(otherFile, `whsec_${Buffer.from('another-secret-of-32-bytes-long!').toString('base64')}\n`);

  const [signedPort, otherPort, replicaPort] = [await freePort(), await freePort(), await freePort()];
  const signed = await consumer(
    'push-consumer',
    { LEADER_URL: `http://127.0.0.1:${replicaPort}`, WEBHOOK_SECRET_FILE: secretFile },
    signedPort,
  );
  const other = await consumer(
    'push-consumer',
    { LEADER_URL: 'http://127.0.0.1:9', WEBHOOK_SECRET_FILE: otherFile },
    otherPort,
  );
  await waitFor(
    'push consumers up',
    async () => (await get(signed.url))?.status === 200 && (await get(other.url))?.status === 200,
  );

  const leader = await Replica.start({
    id: 'signed-a',
    kubeconfig,
    election: 'signed',
    port: replicaPort,
    args: [
      ...FAST,
      `--hook=http://127.0.0.1:${signedPort}/leaderhook`,
      `--hook=http://127.0.0.1:${otherPort}/leaderhook`,
      `--hook-secret-file=${secretFile}`,
    ],
  });
  replicas.push(leader);
  await says(signed.url, 'Master is signed-a', signed.child);
  const state = JSON.parse((await get(`${signed.url}/state`))!.body) as { isLeader: boolean; source: string };
  assert.equal(state.isLeader, true);
  assert.notEqual(state.source, 'GET /leader', 'the state came from a signed hook');

  // Every hook to the consumer with the same secret is delivered; the one with another secret refuses every one (401),
  // which leaderhook gives up at once instead of retrying for the hook's 10 minutes.
  const settled = (status: string) => status === 'delivered' || status === 'given-up';
  const records = await waitFor('both hooks settled', async () => {
    const list = await deliveries(leader);
    const gaveUp = list.some((record) => record.target === 'hook-2' && record.status === 'given-up');
    return gaveUp && list.every((record) => settled(record.status)) ? list : undefined;
  });
  const first = records.filter((record) => record.target === 'hook-1');
  assert.ok(first.length >= 2, JSON.stringify(records));
  assert.ok(
    first.every((record) => record.status === 'delivered'),
    JSON.stringify(first),
  );
  const second = records.filter((record) => record.target === 'hook-2');
  assert.ok(
    second.every((record) => record.status === 'given-up' && record.lastStatusCode === 401),
    JSON.stringify(second),
  );
  const refused = JSON.parse((await get(`${other.url}/state`))!.body) as { source: string };
  assert.equal(refused.source, 'none', 'the consumer with another secret applied nothing');
});
