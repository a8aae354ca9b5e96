import { nonEmptyText } from './file-value.ts';

/** What Node.js refuses in a header value (its checkInvalidHeaderChar): anything but tab, printable ASCII, Latin-1. */
const UNSENDABLE = /[^\t\x20-\x7e\x80-\xff]/u;

/**
 * Why an HTTP header cannot carry `value`, or `undefined` when it can. The message names the kind of character and
 * its position, never the character: the value may be a credential.
 */
export function headerValueProblem(value: string): string | undefined {
  const at = value.search(UNSENDABLE);
  if (at < 0) return undefined;
  const code = value.codePointAt(at) ?? 0;
  const kind =
    code === 0x0d || code === 0x0a
      ? 'a line break (CR or LF)'
      : code < 0x20 || code === 0x7f
        ? 'a control character'
        : 'a character outside Latin-1';
  return `contains ${kind} at character ${at + 1}: an HTTP header value holds only tab, printable ASCII and Latin-1`;
}

/** A header value file's text: trimmed, not empty, and sendable (see `headerValueProblem`). */
export function headerValueText(text: string): string {
  const value = nonEmptyText(text);
  const problem = headerValueProblem(value);
  if (problem) throw new Error(problem);
  return value;
}
