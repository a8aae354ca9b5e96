import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { leaderBody } from '../election/leadership.ts';
import type { LeadershipSource } from './leadership-source.ts';
import { watchStream } from './watch-stream.ts';

export interface HttpAppOptions {
  leadership: LeadershipSource;
  metrics: Registry;
  /** `--ready-only-when-leader`: `/readyz` answers 200 only while this replica leads. */
  readyOnlyWhenLeader?: boolean;
}

/**
 * The HTTP API: leader-elector's `GET /`, the richer `/leader`, `/watch` (SSE), probes and metrics. Other parts'
 * routes are Hono sub-apps the caller mounts with `app.route` (e.g. the notifier's `/deliveries`).
 */
export function createHttpApp({ leadership, metrics, readyOnlyWhenLeader = false }: HttpAppOptions): Hono {
  const app = new Hono();

  // Exactly leader-elector 0.4's answer, so its consumers work unchanged.
  app.get('/', (c) => c.json({ name: leadership.snapshot().leader }));

  app.get('/leader', (c) => c.json(leaderBody(leadership.snapshot())));

  app.get('/watch', (c) => watchStream(c, leadership));

  app.get('/healthz', (c) => {
    const reason = leadership.unhealthyReason();
    return reason ? c.text(`unhealthy: ${reason}\n`, 503) : c.text('ok\n');
  });

  app.get('/readyz', (c) => {
    const snapshot = leadership.snapshot();
    if (!snapshot.ready) return c.text('not ready: the lock has not been read yet\n', 503);
    if (readyOnlyWhenLeader && !snapshot.isLeader) return c.text(`not ready: not the leader (the leader is ${snapshot.leader || 'unknown'})\n`, 503);
    return c.text('ok\n');
  });

  app.get('/metrics', async (c) => c.body(await metrics.metrics(), 200, { 'Content-Type': metrics.contentType }));

  return app;
}
