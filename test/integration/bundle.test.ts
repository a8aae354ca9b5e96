// The integration scenarios (test/integration/scenarios.ts) against the embedded Lease API, with every replica the
// bundle as the image runs it (test/support/image.ts): the build's slimming of client-node must keep every call the
// election makes working. scripts/test-real-api runs the real-API suite on the bundle as well.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../support/image.ts';
import { embeddedCluster, type Cluster } from './cluster.ts';
import { scenarios } from './scenarios.ts';

describe('integration scenarios on the embedded Lease API, replicas running the bundle', () => {
  let cluster: Cluster;
  let scratch: string;
  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'leaderhook-bundle-'));
    await buildApp(join(scratch, 'app'));
    process.env.LEADERHOOK_TEST_APP = join(scratch, 'app');
    cluster = await embeddedCluster();
  });
  after(async () => {
    await cluster?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });
  for (const scenario of scenarios) it(scenario.name, () => scenario.run(cluster));
});
