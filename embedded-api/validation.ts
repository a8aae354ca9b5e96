/**
 * The parts of v1.20's object validation the embedded API enforces (422 Invalid): object names, Lease spec
 * bounds, events.k8s.io/v1 required fields and the core Event namespace rule.
 */
import type { ResourceType } from './resources.ts';
import type { FieldError } from './status.ts';
import type { JsonObject } from './types.ts';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

const required = (field: string, detail = ''): FieldError => ({
  type: 'FieldValueRequired',
  field,
  body: detail === '' ? 'Required value' : `Required value: ${detail}`,
});
const invalidValue = (field: string, value: string | number, detail: string): FieldError => ({
  type: 'FieldValueInvalid',
  field,
  body: `Invalid value: ${typeof value === 'string' ? JSON.stringify(value) : value}: ${detail}`,
});

function validateName(name: string): FieldError[] {
  const errors: FieldError[] = [];
  if (name.length > 253) errors.push(invalidValue('metadata.name', name, 'must be no more than 253 characters'));
  if (!DNS1123_SUBDOMAIN.test(name)) errors.push(invalidValue('metadata.name', name, DNS1123_SUBDOMAIN_MESSAGE));
  return errors;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Validation errors for `obj` (in the API's own form) on create or update. */
export function validate(type: ResourceType, obj: JsonObject, requestApi: string): FieldError[] {
  const meta = (obj.metadata ?? {}) as JsonObject;
  const name = str(meta.name);
  const errors: FieldError[] = [];
  if (name === '') errors.push(required('metadata.name', 'name or generateName is required'));
  else if (type.resource !== 'events') errors.push(...validateName(name));
  if (type.resource === 'leases') {
    const spec = (obj.spec ?? {}) as JsonObject;
    const d = spec.leaseDurationSeconds;
    if (typeof d === 'number' && d <= 0)
      errors.push(invalidValue('spec.leaseDurationSeconds', d, 'must be greater than 0'));
    const t = spec.leaseTransitions;
    if (typeof t === 'number' && t < 0)
      errors.push(invalidValue('spec.leaseTransitions', t, 'must be greater than or equal to 0'));
  }
  if (type.resource === 'configmaps') {
    for (const field of ['data', 'binaryData']) {
      const m = obj[field];
      if (m && typeof m === 'object' && !Array.isArray(m)) {
        for (const key of Object.keys(m)) {
          if (!CONFIG_KEY.test(key))
            errors.push(
              invalidValue(
                `${field}[${key}]`,
                key,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
              ),
            );
        }
      }
    }
  }
  if (type.resource === 'events' && requestApi === 'events.k8s.io/v1') {
    if (obj.eventTime === null || obj.eventTime === undefined) errors.push(required('eventTime'));
    if (obj.type !== 'Normal' && obj.type !== 'Warning')
      errors.push(invalidValue('type', '', `has invalid value: ${str(obj.type)}`));
    if (str(obj.reportingController) === '') errors.push(required('reportingController'));
    if (str(obj.reportingInstance) === '') errors.push(required('reportingInstance'));
    if (str(obj.action) === '') errors.push(required('action'));
    if (str(obj.reason) === '') errors.push(required('reason'));
    if (str(obj.note).length > 1024)
      errors.push({ type: 'FieldValueTooLong', field: 'note', body: 'Too long: must have at most 1024 bytes' });
  }
  if (type.resource === 'events' && requestApi === 'v1') {
    const involved = (obj.involvedObject ?? {}) as JsonObject;
    const ns = str(meta.namespace);
    const ins = str(involved.namespace);
    if ((ins === '' && ns !== '' && ns !== 'default') || (ins !== '' && ins !== ns)) {
      errors.push(invalidValue('involvedObject.namespace', ins, 'does not match event.namespace'));
    }
  }
  return errors;
}
