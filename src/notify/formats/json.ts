import { jsonPayload, type NotifyEvent } from '../events.ts';
import type { Rendered } from './format.ts';

/** The default body: `{"type","timestamp","data"}`. */
export function renderJson(event: NotifyEvent): Rendered {
  return { body: JSON.stringify(jsonPayload(event)), headers: { 'content-type': 'application/json' } };
}
