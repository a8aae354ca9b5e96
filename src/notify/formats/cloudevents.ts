import type { NotifyEvent } from '../events.ts';
import type { FormatContext, Rendered } from './format.ts';

const API_PATHS = {
  leases: 'apis/coordination.k8s.io/v1',
  configmaps: 'api/v1',
  endpoints: 'api/v1',
} as const;

/** `source`: the lock object's API path, e.g. `/apis/coordination.k8s.io/v1/namespaces/default/leases/my-app`. */
export function cloudEventSource(event: NotifyEvent): string {
  const { lock, namespace, election } = event.data;
  return `/${API_PATHS[lock]}/namespaces/${namespace}/${lock}/${election}`;
}

/** The CloudEvents attributes (1.0): `type` is `io.leaderhook.` + the event type; `subject` is who the change is about. */
export function cloudEventAttributes(event: NotifyEvent): Record<string, string> {
  const subject = event.subject;
  return {
    specversion: '1.0',
    id: event.id,
    source: cloudEventSource(event),
    type: `io.leaderhook.${event.type}`,
    time: event.time.toISOString(),
    ...(subject ? { subject } : {}),
  };
}

/** HTTP header values: percent-encode space, `"`, `%` and anything outside printable ASCII (the HTTP binding, 3.1.3.2). */
export function encodeHeaderValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte <= 0x20 || byte >= 0x7f || byte === 0x22 || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

/**
 * CloudEvents 1.0 over HTTP. Binary mode (default): the body is `data` as JSON, each attribute a `ce-` header.
 * Structured mode: `application/cloudevents+json; charset=utf-8` (lower case: the CloudEvents SDK for JavaScript matches
 * the content type exactly) with every attribute and `data` in the body.
 */
export function renderCloudEvent(event: NotifyEvent, { target }: FormatContext): Rendered {
  const attributes = cloudEventAttributes(event);
  if (target.mode === 'structured') {
    return {
      body: JSON.stringify({ ...attributes, datacontenttype: 'application/json', data: event.data }),
      headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    };
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(attributes)) headers[`ce-${name}`] = encodeHeaderValue(value);
  return { body: JSON.stringify(event.data), headers };
}
