/** The object an event is about, as core/v1 ObjectReference. */
export interface InvolvedObject {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid?: string;
  fieldPath?: string;
}

export interface EventSource {
  component: string;
  host?: string;
}

/** A core/v1 Event as tools/record writes it (the fields leaderhook sets). */
export interface CoreEvent {
  name: string;
  namespace: string;
  /** Set once the server has stored the event; a patch needs it. */
  resourceVersion?: string;
  involvedObject: InvolvedObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  source: EventSource;
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: Date;
  lastTimestamp: Date;
  count: number;
}

/** client-go's event name: `<object>.<UnixNano in hex>`, unique enough per object. */
export function eventName(objectName: string, at: Date): string {
  const nanos = BigInt(Math.floor(performance.now() * 1e6)) % 1_000_000n;
  const unixNano = BigInt(at.getTime()) * 1_000_000n + nanos;
  return `${objectName}.${unixNano.toString(16)}`;
}
