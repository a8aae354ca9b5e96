/**
 * The alertmanager format against a real Alertmanager (Debian's prometheus-alertmanager, on loopback), as the README
 * advises running it: three replicas, scope `all`. The outage: the replicas' right to write the Lease is revoked (a
 * broken Role), so the leader cannot renew and steps down, and every replica reads the lock, sees it expired and
 * cannot take it: the election is without a leader, confirmed by a read, and every replica fires
 * `LeaderhookNoLeader`; once the right is back a replica is elected and every replica resolves. (An API server that
 * answers nothing is another outage: no replica can confirm there is no leader, so none reports one; the Prometheus
 * rules of manifests/components/monitoring page on that.) Alertmanager
 * routes on `severity` (as common routing trees do) to a real webhook receiver, and its resolved notification must
 * report the outage from its true start, not a zero-length alert at the last resolve.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { freePort, Replica, waitFor } from '../support/replica.ts';
import { requireTool } from '../support/tools.ts';
import { Receiver } from './receiver.ts';

/** Alertmanager's webhook payload (version 4), as much of it as the test reads. */
interface Notification {
  status: 'firing' | 'resolved';
  receiver: string;
  alerts: Array<{
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
  }>;
}

const ALERTMANAGER = 'prometheus-alertmanager';
const TOKEN = 'leaderhook-token';
let api: EmbeddedApi;
let scratch: string;
let webhook: Receiver;
let alertmanager: ChildProcess | undefined;
let alertmanagerOutput = '';
let alertmanagerUrl = '';
const replicas: Replica[] = [];

before(async () => {
  api = await startEmbeddedApi({ tokens: { [TOKEN]: { user: 'system:serviceaccount:default:leaderhook' } } });
  scratch = mkdtempSync(join(tmpdir(), 'leaderhook-alertmanager-'));
  await api.writeKubeconfig(join(scratch, 'kubeconfig'), { token: TOKEN });
  webhook = await Receiver.start();
});

after(async () => {
  for (const replica of replicas) await replica.stop();
  if (alertmanager && alertmanager.exitCode === null) {
    alertmanager.kill('SIGTERM');
    await once(alertmanager, 'exit');
  }
  await webhook.close();
  await api.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function startAlertmanager(command: string): Promise<void> {
  const port = await freePort();
  const config = join(scratch, 'alertmanager.yml');
  // A routing tree of the common kind: only severity=critical pages (reaches the webhook); the rest is dropped.
  writeFileSync(
    config,
    [
      'route:',
      '  receiver: blackhole',
      '  group_by: [alertname, namespace, election]',
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      '  routes:',
      '    - receiver: pager',
      '      matchers: [severity="critical"]',
      'receivers:',
      '  - name: blackhole',
      '  - name: pager',
      '    webhook_configs:',
      `      - url: http://127.0.0.1:${webhook.port}/alertmanager`,
      '        send_resolved: true',
    ].join('\n'),
  );
  alertmanager = spawn(
    command,
    [
      `--config.file=${config}`,
      `--storage.path=${join(scratch, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  alertmanager.stdout!.setEncoding('utf8').on('data', (chunk: string) => (alertmanagerOutput += chunk));
  alertmanager.stderr!.setEncoding('utf8').on('data', (chunk: string) => (alertmanagerOutput += chunk));
  alertmanagerUrl = `http://127.0.0.1:${port}`;
  await waitFor('Alertmanager ready', async () => {
    try {
      return (await fetch(`${alertmanagerUrl}/-/ready`)).ok;
    } catch {
      return false;
    }
  });
}

const notifications = (): Notification[] =>
  webhook.received
    .filter((entry) => entry.url === '/alertmanager')
    .map((entry) => JSON.parse(entry.body) as Notification);

test(
  'a real Alertmanager reports the outage from its true start, with every replica resolving',
  { timeout: 120_000 },
  async (t) => {
    const command = requireTool(t, ALERTMANAGER, 'apt-get install prometheus-alertmanager');
    if (!command) return;
    await startAlertmanager(command);
    const config = join(scratch, 'targets.yaml');
    writeFileSync(
      config,
      [
        'targets:',
        '  - name: alertmanager',
        `    url: ${alertmanagerUrl}/api/v2/alerts`,
        '    format: alertmanager',
        '    scope: all',
        '    severity: critical',
        '    retry: {attempts: unlimited, minDelay: 100ms, maxDelay: 500ms, maxElapsed: 1m}',
      ].join('\n'),
    );
    for (const id of ['am-a', 'am-b', 'am-c'])
      replicas.push(
        await Replica.start({
          id,
          kubeconfig: join(scratch, 'kubeconfig'),
          election: 'orders',
          args: ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=250ms', `--config=${config}`],
        }),
      );
    const first = await waitFor('a leader every replica names', async () => {
      const views = await Promise.all(replicas.map((replica) => replica.leader()));
      const leader = views[0]?.leader;
      return leader && views.every((view) => view?.leader === leader) ? leader : undefined;
    });

    // The outage: the Lease can be read but no longer written; the leader cannot renew, nobody can take over.
    const pausedAt = Date.now();
    api.setAllowed(TOKEN, (verb) => verb === 'get' || verb === 'list' || verb === 'watch');
    await waitFor(
      'every replica without a leader',
      async () => (await Promise.all(replicas.map((replica) => replica.leader()))).every((view) => view?.leader === ''),
      20_000,
    );
    await waitFor(
      'Alertmanager pages on the firing alert',
      () => notifications().some((n) => n.status === 'firing'),
      20_000,
    );
    // Long enough that the resolves of the three replicas land seconds apart from the alert's start.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const resumedAt = Date.now();
    api.setAllowed(TOKEN, undefined);

    const resolved = await waitFor(
      'the resolved notification',
      () => notifications().find((n) => n.status === 'resolved'),
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${JSON.stringify(notifications(), null, 1)}\n${alertmanagerOutput}`, {
        cause: error,
      });
    });
    // Every replica has sent its resolve (scope all): each one delivered a firing and a resolving alert.
    await waitFor('every replica delivered its resolve', async () => {
      const delivered = await Promise.all(
        replicas.map(async (replica) => {
          const body = (await (
            await fetch(`${replica.url}/deliveries?target=alertmanager&status=delivered`)
          ).json()) as {
            deliveries: unknown[];
          };
          return body.deliveries.length;
        }),
      );
      return delivered.every((count) => count >= 2);
    });
    // And Alertmanager has merged them all: its latest resolved alert still starts at the outage.
    await new Promise((resolve) => setTimeout(resolve, 2500));

    const firing = notifications().find((n) => n.status === 'firing')!;
    const [page] = firing.alerts;
    const latestResolved = notifications()
      .filter((n) => n.status === 'resolved')
      .at(-1)!.alerts[0]!;
    assert.equal(firing.receiver, 'pager', 'routed by severity=critical');
    assert.deepEqual(page!.labels, {
      alertname: 'LeaderhookNoLeader',
      namespace: 'default',
      election: 'orders',
      severity: 'critical',
    });
    assert.match(page!.annotations.description ?? '', new RegExp(`last leader was ${first}`));
    assert.match(page!.annotations.description ?? '', /kubectl -n default describe lease orders/);

    for (const alert of [resolved.alerts[0]!, latestResolved]) {
      const startsAt = Date.parse(alert.startsAt);
      const endsAt = Date.parse(alert.endsAt);
      assert.equal(alert.startsAt, page!.startsAt, 'the resolved alert keeps the start Alertmanager paged with');
      // The outage began once the leader could no longer renew: after the revocation, before the right came back.
      assert.ok(startsAt > pausedAt && startsAt < resumedAt, `startsAt ${alert.startsAt} within the outage`);
      assert.ok(endsAt >= resumedAt, `endsAt ${alert.endsAt} after the right came back`);
      assert.ok(endsAt - startsAt >= 3000, `the outage lasted ${endsAt - startsAt} ms, not zero`);
    }
  },
);
