import { lockPath } from '../../lock/types.ts';
import type { NotifyEvent } from '../events.ts';
import type { FormatContext, Rendered } from './format.ts';

type CloudEventsSdk = typeof import('cloudevents');
let sdk: CloudEventsSdk | undefined;

/**
 * Loads the SDK (with its schema validator), which costs memory in every pod: only when a target wants CloudEvents.
 * The CLI awaits it before the notifier renders anything. A dynamic import, so the bundle carries the SDK in a chunk
 * of its own.
 */
export async function loadCloudEvents(): Promise<void> {
  if (sdk) return;
  // A CommonJS package: Node.js offers its exports by name and as `default`, the bundle's chunk as `default` only.
  const loaded = (await import('cloudevents')) as CloudEventsSdk & { default?: CloudEventsSdk };
  sdk = loaded.default ?? loaded;
}

function cloudEvents(): CloudEventsSdk {
  if (!sdk) throw new Error('the CloudEvents SDK is not loaded: await loadCloudEvents() first');
  return sdk;
}

/** `source`: the lock object's API path, e.g. `/apis/coordination.k8s.io/v1/namespaces/default/leases/my-app`. */
function cloudEventSource(event: NotifyEvent): string {
  const { lock, namespace, election } = event.data;
  return lockPath(lock, namespace, election);
}

/**
 * The CloudEvents attributes (1.0): `type` is `io.leaderhook.` + the event type; `subject` is who the change is about.
 */
function cloudEventAttributes(event: NotifyEvent): Record<string, string> {
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

/**
 * A `ce-` header value as the HTTP binding (§3.1.3.2) requires: space, `"`, `%` and every character outside printable
 * ASCII (U+0021–U+007E) percent-encoded as its UTF-8 bytes (`%E2%98%83`). Other values pass unchanged, so a pod name
 * reads the same whether or not the receiver decodes. The SDK leaves this to its caller.
 */
export function percentEncodeHeaderValue(value: string): string {
  return value.replace(/[^\x21\x23\x24\x26-\x7e]/gu, (character) =>
    [...Buffer.from(character, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/**
 * CloudEvents 1.0 over HTTP, rendered by the CloudEvents SDK. Binary mode (default): the body is `data` as JSON, each
 * attribute a `ce-` header, percent-encoded (see `percentEncodeHeaderValue`). Structured mode:
 * `application/cloudevents+json` with every attribute and `data` in the body.
 */
export function renderCloudEvent(event: NotifyEvent, { target }: FormatContext): Rendered {
  const { CloudEvent, HTTP } = cloudEvents();
  const cloudEvent = new CloudEvent({
    ...cloudEventAttributes(event),
    datacontenttype: 'application/json',
    data: event.data,
  });
  const message = target.mode === 'structured' ? HTTP.structured(cloudEvent) : HTTP.binary(cloudEvent);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value === undefined) continue;
    const header = name.toLowerCase();
    headers[header] = header.startsWith('ce-') ? percentEncodeHeaderValue(String(value)) : String(value);
  }
  return { body: typeof message.body === 'string' ? message.body : JSON.stringify(message.body), headers };
}
