import { createHash } from 'node:crypto';
import type { EventType } from './events.ts';

/**
 * Who sends a target's events (`scope`):
 * - `self`: every replica sends its own observations (a local container hook); while the hook fails, a newer
 *   `leader.changed` supersedes a queued older one (never a start or stop: see `TargetQueue`);
 * - `leader`: one delivery per transition for the whole election, sent by the replica leading the term it belongs to,
 *   with a delivery cursor on the lock so a successor sends what a crashed leader did not;
 * - `all`: every replica sends every event it observes, in order, nothing superseded.
 */
export const SCOPES = ['self', 'leader', 'all'] as const;
export type Scope = (typeof SCOPES)[number];

/** The body a target gets (`format`; see formats/). */
export const FORMAT_NAMES = ['json', 'cloudevents', 'slack', 'alertmanager', 'pagerduty'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

/** CloudEvents HTTP binding modes (`mode`): `ce-` headers with the data as body, or the whole event as JSON. */
export const CLOUDEVENTS_MODES = ['binary', 'structured'] as const;
type CloudEventsMode = (typeof CLOUDEVENTS_MODES)[number];

/** Severities (`severity`): PagerDuty Events API v2's, and the `severity` label of an Alertmanager alert. */
export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
type Severity = (typeof SEVERITIES)[number];

export interface RetryPolicy {
  /** Attempts in all, including the first; `Infinity` keeps trying until `maxElapsedMs`. */
  attempts: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Time budget from the first attempt; past it the event is given up. */
  maxElapsedMs: number;
}

export interface Target {
  /** Shown in logs, metrics and `/deliveries` instead of the URL (a URL may carry a token, as Slack's do). */
  name: string;
  /** Where the delivery cursor of a `leader` target is kept: `leaderhook.io/cursor.<cursorKey>`. */
  cursorKey: string;
  url: string;
  scope: Scope;
  events: ReadonlySet<EventType>;
  format: FormatName;
  /** CloudEvents HTTP binding mode. */
  mode: CloudEventsMode;
  headers: Readonly<Record<string, string>>;
  /** Header values read from files (e.g. `Authorization` from a mounted Secret). */
  headerFiles: Readonly<Record<string, string>>;
  /** Standard Webhooks secrets, `whsec_…`, one per line, newest first; one signature per secret. */
  secretFiles: readonly string[];
  timeoutMs: number;
  retry: RetryPolicy;
  /** While the target fails, a newer `leader.changed` replaces a queued one (state hooks; see `TargetQueue`). */
  supersede: boolean;
  /** PagerDuty only. */
  routingKeyFile?: string;
  /** PagerDuty's event severity, or the Alertmanager alert's `severity` label. */
  severity?: Severity;
}

/** Local container hooks: short timeout, keep trying while the main container starts. */
export const HOOK_DEFAULTS = {
  timeoutMs: 5_000,
  retry: { attempts: Number.POSITIVE_INFINITY, minDelayMs: 100, maxDelayMs: 2_000, maxElapsedMs: 10 * 60_000 },
} as const;

/** Remote targets: the timeout Standard Webhooks recommends, exponential back-off for up to 15 minutes. */
export const REMOTE_DEFAULTS = {
  timeoutMs: 15_000,
  retry: { attempts: 10, minDelayMs: 1_000, maxDelayMs: 60_000, maxElapsedMs: 15 * 60_000 },
} as const;

/** Where a `pagerduty` target posts unless it names a URL: PagerDuty's Events API v2. */
export const PAGERDUTY_URL = 'https://events.pagerduty.com/v2/enqueue';

/**
 * The cursor key of a `leader` target without a `name`: from its `urlFile`'s path when it has one (the path stays
 * when a rotation changes the URL in it, so replicas started before and after share one cursor), else from its URL;
 * a hash either way (`u` + 12 hex digits, `f` + 12 for a file), so nothing of a token reaches the lock object.
 */
export function unnamedCursorKey(target: { url: string } | { urlFile: string }): string {
  const [prefix, source] = 'urlFile' in target ? ['f', target.urlFile] : ['u', target.url];
  return `${prefix}${createHash('sha256').update(source).digest('hex').slice(0, 12)}`;
}

/** The URL without path, query or credentials, for places where a secret in the URL must not show. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const rest = parsed.pathname !== '/' || parsed.search ? '/…' : '';
    return `${parsed.protocol}//${parsed.host}${rest}`;
  } catch {
    return '[invalid url]';
  }
}
