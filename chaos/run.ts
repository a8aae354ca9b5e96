// `npm run chaos`: the chaos soak (test/chaos/soak.ts) at full length: replicas as real processes, one random fault
// per leadership transition, every invariant checked throughout. Prints its figures; exits 1 on any violation.
//
//   npm run chaos [-- --transitions=1000 --replicas=3 --seed=N --api=embedded|kube]
//
// --api=kube runs against the real kube-apiserver of scripts/kube-up (started and stopped here; it is one shared
// instance: hold its lock, e.g. `flock /work/plan/kube.lock npm run chaos -- --api=kube`).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { percentile } from '../bench/stats.ts';
import { embeddedCluster, realCluster, type Cluster } from '../test/integration/cluster.ts';
import { FAULT_KINDS, runSoak, type FaultKind, type SoakReport } from '../test/chaos/soak.ts';

const { values } = parseArgs({
  options: {
    transitions: { type: 'string', default: '1000' },
    replicas: { type: 'string', default: '4' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    api: { type: 'string', default: 'embedded' },
    /** Only these fault kinds (comma-separated), e.g. to reproduce one case. */
    faults: { type: 'string' },
    'lease-duration-ms': { type: 'string', default: '3000' },
    'renew-deadline-ms': { type: 'string', default: '2000' },
    'retry-period-ms': { type: 'string', default: '500' },
  },
});
if (values.api !== 'embedded' && values.api !== 'kube') {
  process.stderr.write(`chaos: --api must be embedded or kube, not "${values.api}"\n`);
  process.exit(2);
}
const count = (name: string, text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`chaos: --${name} must be a whole number above 0, not "${text}"\n`);
    process.exit(2);
  }
  return value;
};

let weights: Partial<Record<FaultKind, number>> | undefined;
if (values.faults !== undefined) {
  const chosen = values.faults.split(',').map((kind) => kind.trim());
  const unknown = chosen.find((kind) => !(FAULT_KINDS as readonly string[]).includes(kind));
  if (unknown !== undefined) {
    process.stderr.write(`chaos: --faults: unknown kind "${unknown}" (kinds: ${FAULT_KINDS.join(', ')})\n`);
    process.exit(2);
  }
  weights = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, chosen.includes(kind) ? 1 : 0]));
}

const kubeUp = fileURLToPath(new URL('../scripts/kube-up', import.meta.url));
let cluster: Cluster;
if (values.api === 'kube') {
  execFileSync(kubeUp, ['start'], { stdio: 'inherit' });
  const env = execFileSync(kubeUp, ['env'], { encoding: 'utf8' });
  for (const line of env.split('\n')) {
    const match = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) process.env[match[1] as string] = (match[2] as string).replace(/^'(.*)'$/, '$1');
  }
  cluster = await realCluster();
} else {
  cluster = await embeddedCluster();
}

const seed = count('seed', values.seed);
console.log(
  `chaos: ${values.transitions} transitions, ${values.replicas} replicas, ${values.api === 'kube' ? 'kube-apiserver' : 'embedded API'}, seed ${seed}`,
);
let report: SoakReport;
try {
  report = await runSoak({
    cluster,
    run: { transitions: count('transitions', values.transitions), ...(weights ? { weights } : {}) },
    replicas: count('replicas', values.replicas),
    seed,
    leaseMs: count('lease-duration-ms', values['lease-duration-ms']),
    renewDeadlineMs: count('renew-deadline-ms', values['renew-deadline-ms']),
    retryMs: count('retry-period-ms', values['retry-period-ms']),
    log: (line) => console.log(line),
  });
} finally {
  await cluster.close();
  if (values.api === 'kube') execFileSync(kubeUp, ['stop'], { stdio: 'inherit' });
}
printReport(report);
process.exit(report.violations.length ? 1 : 0);

function printReport(result: SoakReport): void {
  console.log('');
  console.log(
    `transitions: ${result.transitions} in ${result.rounds} rounds, ${Math.round(result.durationMs / 1000)} s`,
  );
  console.log(
    `faults: ${Object.entries(result.faults)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ')}`,
  );
  console.log(
    `background faults on a follower: ${Object.entries(result.background)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ')}`,
  );
  console.log(
    `samples of every replica: ${result.samples}; hook deliveries: ${result.hookEvents}; leader-scope webhook deliveries: ${result.webhookEvents}`,
  );
  console.log(
    `sampling rounds with two isLeader answers but no proven overlap (a handover between the answers): ${result.unprovenOverlaps}`,
  );
  console.log('failover (fault → the next leadership.started at a hook):');
  for (const [kind, times] of Object.entries(result.failoverMs)) {
    console.log(
      `  ${kind.padEnd(22)} p50 ${Math.round(percentile(times, 50))} ms, p99 ${Math.round(percentile(times, 99))} ms (n=${times.length})`,
    );
  }
  console.log('whole rounds (a settled leader, the fault, the failover):');
  for (const [kind, times] of Object.entries(result.roundMs)) {
    console.log(`  ${kind.padEnd(22)} p50 ${Math.round(percentile(times, 50))} ms (n=${times.length})`);
  }
  console.log(`violations: ${result.violations.length}`);
  const byKind = new Map<string, number>();
  for (const violation of result.violations)
    byKind.set(violation.invariant, (byKind.get(violation.invariant) ?? 0) + 1);
  for (const [kind, n] of byKind) console.log(`  ${kind}: ${n}`);
  for (const violation of result.violations.slice(0, 20))
    console.log(`  - ${violation.invariant}: ${violation.detail}`);
}
