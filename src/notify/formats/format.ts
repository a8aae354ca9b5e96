import type { NotifyEvent } from '../events.ts';
import type { Target } from '../targets.ts';

/** One request body with the headers that describe it. */
export interface Rendered {
  body: string;
  headers: Record<string, string>;
}

export interface FormatContext {
  target: Target;
  /** PagerDuty's integration key, read from `routingKeyFile`. */
  routingKey?: () => string;
}

/** `null`: this format has nothing to say about this event (e.g. Alertmanager about `leadership.started`). */
export type Formatter = (event: NotifyEvent, context: FormatContext) => Rendered | null;

export function describeElection(event: NotifyEvent): string {
  return `${event.data.namespace}/${event.data.election}`;
}
