/**
 * The monitoring component's PrometheusRule as Prometheus reads it: its spec (plain rule groups) passes
 * `promtool check rules`, and `promtool test rules` runs the unit tests in rules.promtool.yaml (no leader, including
 * every replica down; two leaders; a leader that cannot renew; deliveries given up). Every rule has tests, and every
 * leaderhook metric a rule reads is one leaderhook exports.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { createProcessRegistry, ElectionMetrics } from '../../src/metrics/election-metrics.ts';
import { NotifyMetrics } from '../../src/notify/metrics.ts';
import { requireTool } from '../support/tools.ts';

const RULE = fileURLToPath(new URL('../../manifests/components/monitoring/prometheusrule.yaml', import.meta.url));
const UNIT_TESTS = fileURLToPath(new URL('rules.promtool.yaml', import.meta.url));

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
const spec = (parse(readFileSync(RULE, 'utf8')) as { spec: { groups: Array<{ rules: Rule[] }> } }).spec;
const scratch = mkdtempSync(join(tmpdir(), 'leaderhook-rules-'));
writeFileSync(join(scratch, 'rules.yaml'), stringify(spec));
copyFileSync(UNIT_TESTS, join(scratch, 'rules.promtool.yaml'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function promtool(path: string, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(path, args, { cwd: scratch, encoding: 'utf8' });
}

test('promtool check rules accepts the PrometheusRule', (t) => {
  const path = requireTool(t, 'promtool', 'apt-get install prometheus');
  if (!path) return;
  const check = promtool(path, 'check', 'rules', 'rules.yaml');
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  assert.match(check.stdout, /SUCCESS: \d+ rules found/);
});

test('promtool test rules: the unit tests pass', (t) => {
  const path = requireTool(t, 'promtool', 'apt-get install prometheus');
  if (!path) return;
  const run = promtool(path, 'test', 'rules', 'rules.promtool.yaml');
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /SUCCESS/);
});

test('every alert has unit tests, including a case where it fires', () => {
  const tested = (
    parse(readFileSync(UNIT_TESTS, 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    }
  ).tests.flatMap((unit) => unit.alert_rule_test ?? []);
  for (const rule of spec.groups.flatMap((group) => group.rules)) {
    if (!rule.alert) continue;
    const cases = tested.filter((entry) => entry.alertname === rule.alert);
    assert.ok(
      cases.some((entry) => entry.exp_alerts.length > 0),
      `${rule.alert} is tested firing`,
    );
  }
});

test('the rules read only metrics leaderhook exports', async () => {
  const metrics = new ElectionMetrics('orders', createProcessRegistry());
  new NotifyMetrics(metrics.registry);
  const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name));
  const used = new Set(
    spec.groups.flatMap((group) => group.rules.flatMap((rule) => rule.expr.match(/leaderhook_\w+/g) ?? [])),
  );
  assert.ok(used.size >= 3);
  for (const name of used) assert.ok(exported.has(name), `${name} is exported`);
});
