import { Webhook } from 'standardwebhooks';
import type { FileValue } from './file-value.ts';

/** Standard Webhooks: a symmetric secret is `whsec_` + base64 of 24 to 64 random bytes. */
const PREFIX = 'whsec_';
const MIN_BYTES = 24;
const MAX_BYTES = 64;
/** The most secrets one file holds: each adds a signature to every request (a rotation needs two). */
const MAX_SECRETS_PER_FILE = 10;

/** Decodes one `whsec_…` secret; throws an Error whose message never contains the secret. */
export function decodeSecret(text: string): Buffer {
  if (!text.startsWith(PREFIX)) throw new Error(`a secret must have the form ${PREFIX}<base64>`);
  const base64 = text.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new Error(`a secret must be ${PREFIX} followed by base64`);
  const key = Buffer.from(base64, 'base64');
  if (key.length < MIN_BYTES || key.length > MAX_BYTES)
    throw new Error(`a secret must decode to ${MIN_BYTES} to ${MAX_BYTES} bytes, not ${key.length}`);
  return key;
}

/**
 * The secrets in a file: one per line, newest first, at most `MAX_SECRETS_PER_FILE`; blank lines and `#` comments are
 * skipped.
 */
export function parseSecretFile(text: string): Webhook[] {
  const keys: Webhook[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (keys.length === MAX_SECRETS_PER_FILE)
      throw new Error(`line ${index + 1}: more than ${MAX_SECRETS_PER_FILE} secrets in one file`);
    try {
      keys.push(new Webhook(decodeSecret(line), { format: 'raw' }));
    } catch (error) {
      // No cause: whatever the library says about the secret stays out of the error a log may carry.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(`line ${index + 1}: ${(error as Error).message}`);
    }
  }
  if (keys.length === 0) throw new Error('no secret in the file');
  return keys;
}

/**
 * `webhook-signature`, signed by the Standard Webhooks reference library: one `v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">` per secret, space-separated, so a receiver holding either the old or the new secret verifies
 * during a rotation.
 */
export function signatureHeader(keys: readonly Webhook[], id: string, timestampSeconds: number, body: string): string {
  const at = new Date(timestampSeconds * 1000);
  return keys.map((key) => key.sign(id, at, body)).join(' ');
}

/** Signing secrets from files (opened with `parseSecretFile`), newest first; each file is re-read on rotation. */
export class SecretFiles {
  readonly #files: readonly FileValue<Webhook[]>[];

  constructor(files: readonly FileValue<Webhook[]>[]) {
    this.#files = files;
  }

  /** The files, for their reload reports. */
  get files(): readonly FileValue<Webhook[]>[] {
    return this.#files;
  }

  keys(): readonly Webhook[] {
    return this.#files.flatMap((file) => file.value());
  }
}
