// `npm run bench`: leaderhook's speed and memory figures on this machine, with the bundle run as the image runs it
// (the Dockerfile's Node.js options and ENV), each beside the previous build's figure and the target. Medians and
// percentiles over many runs; asserts nothing.
//
//   npm run bench                          all sections, against the embedded Lease API
//   npm run bench -- --real-api            handover, push and idle figures against kube-apiserver (scripts/kube-up
//                                          start; eval "$(scripts/kube-up env)"; hold /work/plan/kube.lock or the
//                                          server's other users' figures and yours mix)
//   npm run bench -- --only=idle,handover  some sections (idle, startup, http, handover, crash, push, fanout, peak,
//                                          features, library, probes, runtime)
//   npm run bench -- --with-previous       also measure the previous build (tsc output + node_modules, plain node)
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { imageCommand } from '../test/support/image.ts';
import { crashFailovers, handovers, HANDOVER_STEPS } from './handover.ts';
import { libraryInApp } from './library.ts';
import { httpThroughput, idle, perFeature, runtimeVariants, startupToLeader, type IdleFigures } from './memory.ts';
import { fanOut, peakWithTargets, pushLatency, PUSH_STEPS, receiver, requestFloor } from './notify.ts';
import { buildPrevious, PREVIOUS } from './previous.ts';
import { importProbes } from './probes.ts';
import { setUp } from './setup.ts';
import { percentile, summary } from './stats.ts';

const { values: options } = parseArgs({
  options: {
    'real-api': { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string', default: '50' },
    'push-rounds': { type: 'string', default: '100' },
    'crash-rounds': { type: 'string', default: '8' },
    'idle-seconds': { type: 'string', default: '60' },
    'feature-seconds': { type: 'string', default: '20' },
    'load-seconds': { type: 'string', default: '10' },
    transitions: { type: 'string', default: '100' },
    'with-previous': { type: 'boolean', default: false },
  },
});
const realApi = options['real-api'];
const SECTIONS = realApi
  ? ['idle', 'handover', 'push']
  : [
      'idle',
      'startup',
      'http',
      'handover',
      'crash',
      'push',
      'fanout',
      'peak',
      'features',
      'library',
      'probes',
      'runtime',
    ];
const only = options.only ? new Set(options.only.split(',')) : undefined;
const runs = (section: string) => SECTIONS.includes(section) && (!only || only.has(section));
const count = (name: keyof typeof options) => Number(options[name]);

interface Row {
  measure: string;
  previous: string;
  now: string;
  target: string;
}
const rows: Row[] = [];
const report = (measure: string, now: string, previous = '', target = '') => {
  rows.push({ measure, previous, now, target });
  console.log(`${measure}: ${now}${target ? `   [${target}]` : ''}`);
};
const mb = (value: number) => `${value.toFixed(1)} MiB`;
const met = (ok: boolean, text: string) => `${text}: ${ok ? 'met' : '**missed**'}`;
const load = () =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(' / ');
const idleText = (figures: IdleFigures, key: 'rssMb' | 'anonMb') =>
  `median ${mb(figures[key].median)} (max ${mb(figures[key].max)})`;

const image = imageCommand();
console.log(
  `bench against the ${realApi ? 'kube-apiserver of scripts/kube-up' : 'embedded Lease API'}; the image runs: node ${image.nodeArgs.join(' ')} … with ${Object.entries(
    image.env,
  )
    .map(([name, value]) => `${name}=${value}`)
    .join(' ')}`,
);
console.log(`load average at start (1/5/15 min): ${load()} on 2 cores`);
const bench = await setUp(realApi);
const api = realApi ? ' (kube-apiserver)' : '';
try {
  if (runs('idle')) {
    const seconds = count('idle-seconds');
    const { leader, follower } = await idle(bench, seconds);
    const rssOk = leader.rssMb.median <= 80 && follower.rssMb.median <= 80;
    const anonOk = leader.anonMb.median <= 30 && follower.anonMb.median <= 30;
    report(`idle RSS, leader${api}`, idleText(leader, 'rssMb'), PREVIOUS.idleRss, met(rssOk, '≤ 80 MiB'));
    report(`idle RSS, follower${api}`, idleText(follower, 'rssMb'), PREVIOUS.idleRss, met(rssOk, '≤ 80 MiB'));
    report(
      `idle RssAnon (private), leader${api}`,
      idleText(leader, 'anonMb'),
      PREVIOUS.idleAnon,
      met(anonOk, '≤ 30 MiB'),
    );
    report(
      `idle RssAnon (private), follower${api}`,
      idleText(follower, 'anonMb'),
      PREVIOUS.idleAnon,
      met(anonOk, '≤ 30 MiB'),
    );
    report(
      `idle CPU${api} (% of one core, ${seconds} s)`,
      `leader ${leader.cpuPercent.toFixed(2)} %, follower ${follower.cpuPercent.toFixed(2)} %`,
      PREVIOUS.idleCpu,
    );
    report(
      `API requests per minute${api}, default timings`,
      `leader ${leader.requestsPerMinute.toFixed(0)}, follower ${follower.requestsPerMinute.toFixed(0)}`,
      'leader 30, follower 0',
    );
    if (options['with-previous']) {
      const bundle = bench.command;
      bench.command = buildPrevious();
      const previous = await idle(bench, seconds);
      bench.command = bundle;
      report(
        `previous build, same run: idle RSS${api}`,
        `leader ${idleText(previous.leader, 'rssMb')}, follower ${idleText(previous.follower, 'rssMb')}`,
      );
      report(
        `previous build, same run: idle RssAnon${api}`,
        `leader ${idleText(previous.leader, 'anonMb')}, follower ${idleText(previous.follower, 'anonMb')}`,
      );
      report(
        `previous build, same run: idle CPU${api}`,
        `leader ${previous.leader.cpuPercent.toFixed(2)} %, follower ${previous.follower.cpuPercent.toFixed(2)} %`,
      );
    }
  }
  if (runs('startup')) {
    const times = await startupToLeader(bench, 10);
    report(
      'start-up to leader (process start → GET /leader leads)',
      summary(times),
      PREVIOUS.startup,
      met(percentile(times, 50) <= 400, 'p50 ≤ 400 ms'),
    );
    if (options['with-previous']) {
      const bundle = bench.command;
      bench.command = buildPrevious();
      report('previous build, same run: start-up to leader', summary(await startupToLeader(bench, 10)));
      bench.command = bundle;
    }
  }
  if (runs('http')) {
    const result = await httpThroughput(bench, count('load-seconds'));
    report(
      `GET / throughput (32 connections, ${count('load-seconds')} s, autocannon in its own process)`,
      `${result.requestsPerSecond.toLocaleString('en')} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.errors} errors`,
      PREVIOUS.httpThroughput,
      met(result.requestsPerSecond >= 10_000, '≥ 10,000 req/s'),
    );
    if (options['with-previous']) {
      const bundle = bench.command;
      bench.command = buildPrevious();
      const previous = await httpThroughput(bench, count('load-seconds'));
      bench.command = bundle;
      report(
        'previous build, same run: GET / throughput',
        `${previous.requestsPerSecond.toLocaleString('en')} req/s, p50 ${previous.p50} ms, p99 ${previous.p99} ms`,
      );
    }
  }
  if (runs('handover')) {
    const rounds = await handovers(bench, count('rounds'));
    const total = rounds.map((round) => round.totalMs);
    const target = realApi
      ? met(percentile(total, 50) <= 50 && percentile(total, 99) <= 100, 'p50 ≤ 50 ms, p99 ≤ 100 ms')
      : '';
    report(
      `handover${api}: SIGTERM → a new leader serves GET /`,
      summary(total),
      realApi ? PREVIOUS.handoverReal : PREVIOUS.handoverEmbedded,
      target,
    );
    for (const [key, step] of HANDOVER_STEPS)
      report(
        `  handover${api}: ${step}`,
        // NaN: the old leader had exited before the round's end, its CPU time unknown.
        summary(rounds.map((round) => round[key]).filter(Number.isFinite)),
      );
  }
  if (runs('crash')) {
    report(
      'crash failover (SIGKILL; lease 2 s, retry 500 ms)',
      summary(await crashFailovers(bench, count('crash-rounds'))),
      PREVIOUS.crashFailover,
      '≤ lease + retry period',
    );
  }
  if (runs('push')) {
    const rounds = await pushLatency(bench, count('push-rounds'));
    const total = rounds.map((round) => round.totalMs);
    report(
      `push${api}: acquire written → local hook received leadership.started`,
      summary(total),
      PREVIOUS.push,
      met(percentile(total, 99) <= 10, 'p99 ≤ 10 ms'),
    );
    for (const [key, step] of PUSH_STEPS)
      report(`  push${api}: ${step}`, summary(rounds.map((round) => round[key] as number)));
    report(
      `  push${api}: requests on a reused connection`,
      `${rounds.filter((round) => round.reusedConnection).length} of ${rounds.length}`,
    );
    if (!realApi) {
      for (const client of ['got', 'http'] as const)
        report(
          `  a second POST in a fresh process, start → arrival, ${client === 'got' ? 'got (the notifier)' : 'node:http'}`,
          summary(requestFloor(client, image.nodeArgs, 20)),
        );
    }
  }
  if (runs('fanout')) {
    for (const hanging of [0, 10]) {
      const { each, last } = await fanOut(bench, hanging, 5);
      report(`100 targets, ${hanging} hanging → each healthy hook`, summary(each), hanging ? PREVIOUS.fanOut : '');
      report(`100 targets, ${hanging} hanging → the last healthy hook`, summary(last));
    }
  }
  if (runs('peak')) {
    const peak = await peakWithTargets(bench, count('transitions'));
    report(
      `peak RSS, 10 targets of every format (50), ${peak.transitions} transitions`,
      `${mb(peak.peakRssMb)} (RssAnon ${mb(peak.peakAnonMb)}; at the end ${mb(peak.finalRssMb)}; ${peak.deliveries} deliveries: ${Object.entries(
        peak.byFormat,
      )
        .map(([format, count]) => `${format} ${count}`)
        .join(', ')})`,
      PREVIOUS.peakWithTargets,
      "below the manifests' limit (test/manifests)",
    );
  }
  if (runs('features')) {
    const hook = await receiver();
    try {
      const figures = await perFeature(bench, count('feature-seconds'), hook.port);
      const base = figures[0];
      for (const figure of figures) {
        const delta =
          figure === base
            ? ''
            : ` (+${(figure.rssMb - (base?.rssMb ?? 0)).toFixed(1)} / +${(figure.anonMb - (base?.anonMb ?? 0)).toFixed(1)})`;
        report(`memory with ${figure.feature}: RSS / RssAnon`, `${mb(figure.rssMb)} / ${mb(figure.anonMb)}${delta}`);
      }
    } finally {
      hook.close();
    }
  }
  if (runs('library')) {
    const { clientOnly, withElection } = await libraryInApp(bench, count('feature-seconds'));
    report(
      'library: an app using client-node (a read every 2 s): RSS / RssAnon',
      `${mb(clientOnly.rssMb)} / ${mb(clientOnly.anonMb)}`,
    );
    report(
      'library: the same app electing with leaderhook and leading: RSS / RssAnon',
      `${mb(withElection.rssMb)} / ${mb(withElection.anonMb)} (+${(withElection.rssMb - clientOnly.rssMb).toFixed(1)} / +${(withElection.anonMb - clientOnly.anonMb).toFixed(1)})`,
    );
  }
  if (runs('probes')) {
    for (const probe of await importProbes(image, bench.directory))
      report(`import probe: ${probe.probe}`, `RSS ${mb(probe.rssMb)}, RssAnon ${mb(probe.anonMb)}`);
  }
  if (runs('runtime')) {
    const tunable = (threshold: number) => ({
      NODE_ENV: 'production',
      GLIBC_TUNABLES: `glibc.malloc.mmap_threshold=${threshold}`,
    });
    // The sidecar sets --optimize-for-size itself (src/runtime/v8-flags.ts): every row has it.
    const v8 = image.nodeArgs;
    const variants = [
      { name: 'glibc defaults', nodeArgs: v8, env: { NODE_ENV: 'production' } },
      { name: 'mmap_threshold=16384', nodeArgs: v8, env: tunable(16384) },
      { name: 'mmap_threshold=32768 (the image)', nodeArgs: v8, env: tunable(32768) },
      { name: 'mmap_threshold=65536', nodeArgs: v8, env: tunable(65536) },
      {
        name: 'mmap_threshold=32768 + arena_max=1',
        nodeArgs: v8,
        env: { NODE_ENV: 'production', GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=32768:glibc.malloc.arena_max=1' },
      },
      {
        name: 'the image with --optimize-for-size on the command line too',
        nodeArgs: [...v8, '--optimize-for-size'],
        env: tunable(32768),
      },
    ];
    for (const row of await runtimeVariants(bench, variants, count('feature-seconds'))) {
      report(`runtime: ${row.name}: idle RSS / RssAnon (lone leader)`, `${mb(row.rssMb)} / ${mb(row.anonMb)}`);
    }
  }
} finally {
  await bench.close();
}

console.log(`\nload average at the end (1/5/15 min): ${load()} on 2 cores\n`);
console.log('| measure | previous build | this build | target |\n| --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.measure} | ${row.previous} | ${row.now} | ${row.target} |`);
