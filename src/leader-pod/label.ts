/** The label the leader puts on its own Pod, e.g. `role=leader`. */
export interface LeaderLabel {
  /** The label's key, e.g. `role` or `example.com/role`. */
  key: string;
  /** The label's value, e.g. `leader`. */
  value: string;
}

/** A DNS subdomain (RFC 1123, lower case), as Kubernetes requires of object names and label key prefixes. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label name or value: alphanumerics at both ends, `-`, `_`, `.` inside, at most 63 characters. */
const LABEL_TEXT = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Parses `KEY=VALUE` with Kubernetes' label syntax; returns the problem as text for a usage error. */
export function parseLeaderLabel(text: string): LeaderLabel | string {
  const at = text.indexOf('=');
  if (at < 0) return `"${text}" is not KEY=VALUE (e.g. role=leader)`;
  const key = text.slice(0, at).trim();
  const value = text.slice(at + 1).trim();
  const problem = labelKeyProblem(key) ?? labelValueProblem(value);
  return problem ? `"${text}": ${problem}` : { key, value };
}

function labelKeyProblem(key: string): string | undefined {
  if (key === '') return 'the key is empty';
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `the key prefix "${prefix}" must be a lower-case DNS subdomain of at most 253 characters`;
  }
  if (name.length > 63 || !LABEL_TEXT.test(name)) {
    return `the key name "${name}" must be at most 63 characters: letters, digits, "-", "_", "." and begin and end with a letter or digit`;
  }
  return undefined;
}

function labelValueProblem(value: string): string | undefined {
  if (value === '') return 'the value is empty';
  if (value.length > 63 || !LABEL_TEXT.test(value)) {
    return `the value "${value}" must be at most 63 characters: letters, digits, "-", "_", "." and begin and end with a letter or digit`;
  }
  return undefined;
}
