import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { leaderBody, type LeadershipFeed } from '../election/leadership.ts';
import { WatchStreams, type WatchLimits } from './watch-stream.ts';

/** What the HTTP API needs of the election: the leadership feed and the health verdict for `/healthz`. */
export interface ElectionView extends LeadershipFeed {
  /** `undefined` when healthy, else why the kubelet should restart this container. */
  unhealthyReason(): string | undefined;
}

/** The candidate check as `GET /leader` shows it (src/candidate/ gives it; wired in cli.ts). */
export interface CandidateView {
  healthy: boolean;
  consecutiveFailures: number;
  failureThreshold: number;
  checkedAt: string | null;
  lastResult: string | null;
}

export interface HttpAppOptions {
  leadership: ElectionView;
  metrics: Registry;
  /** `--ready-only-when-leader`: `/readyz` answers 200 only while this replica leads. */
  readyOnlyWhenLeader?: boolean;
  /** Bounds of `/watch` (`--max-watch-clients`); `WATCH_DEFAULTS` for the rest. */
  watch?: Partial<WatchLimits>;
  /** `--candidate-check`: the main container's health check, shown in `GET /leader` as `candidate`. */
  candidate?: () => CandidateView;
  /**
   * Aborted when shutdown starts, before the lock is released: every answer from then on carries `Connection: close`,
   * so a keep-alive client opens its next request on a new connection instead of one about to be closed (Go's
   * `http.Server.Shutdown` does the same). The server still answers meanwhile: consumers learn of the release.
   */
  draining?: AbortSignal;
  /** Aborted on shutdown, before the server closes: `/watch` streams end cleanly after their last event. */
  closing?: AbortSignal;
}

/**
 * The HTTP API: leader-elector's `GET /`, the richer `/leader`, `/watch` (SSE), probes and metrics. Other parts'
 * routes are Hono sub-apps the caller mounts with `app.route` (e.g. the notifier's `/deliveries`).
 */
export function createHttpApp({
  leadership,
  metrics,
  readyOnlyWhenLeader = false,
  watch,
  candidate,
  draining,
  closing,
}: HttpAppOptions): Hono {
  const app = new Hono();
  const watchStreams = new WatchStreams(leadership, metrics, watch, closing);

  if (draining)
    app.use(async (c, next) => {
      await next();
      if (draining.aborted) c.header('Connection', 'close');
    });

  // Exactly leader-elector 0.4's answer, so its consumers work unchanged. They decide whether they lead by comparing
  // the name with their own, so this replica's name only while it leads: after a step-down, until a read shows who
  // holds the lock, the leader is unknown here, "" (as 0.4 answers when its re-read after a step-down fails).
  app.get('/', (c) => {
    const { leader, identity, isLeader } = leadership.snapshot();
    return c.json({ name: leader === identity && !isLeader ? '' : leader });
  });

  app.get('/leader', (c) => {
    const body = leaderBody(leadership.snapshot());
    return c.json(candidate ? { ...body, candidate: candidate() } : body);
  });

  app.get('/watch', (c) => watchStreams.handle(c));

  app.get('/healthz', (c) => {
    const reason = leadership.unhealthyReason();
    return reason ? c.text(`unhealthy: ${reason}\n`, 503) : c.text('ok\n');
  });

  app.get('/readyz', (c) => {
    const snapshot = leadership.snapshot();
    if (!snapshot.ready) return c.text('not ready: the lock has not been read yet\n', 503);
    if (readyOnlyWhenLeader && !snapshot.isLeader)
      return c.text(`not ready: not the leader (the leader is ${snapshot.leader || 'unknown'})\n`, 503);
    return c.text('ok\n');
  });

  app.get('/metrics', async (c) => c.body(await metrics.metrics(), 200, { 'Content-Type': metrics.contentType }));

  return app;
}
