import { readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';

/** Standard Webhooks: a symmetric secret is `whsec_` + base64 of 24 to 64 random bytes. */
const PREFIX = 'whsec_';
const MIN_BYTES = 24;
const MAX_BYTES = 64;
/** How often the secret files are re-read, at most. */
const REFRESH_MS = 10_000;

/** Decodes one `whsec_…` secret; throws an Error whose message never contains the secret. */
export function decodeSecret(text: string): Buffer {
  if (!text.startsWith(PREFIX)) throw new Error(`a secret must have the form ${PREFIX}<base64>`);
  const base64 = text.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new Error(`a secret must be ${PREFIX} followed by base64`);
  const key = Buffer.from(base64, 'base64');
  if (key.length < MIN_BYTES || key.length > MAX_BYTES) throw new Error(`a secret must decode to ${MIN_BYTES} to ${MAX_BYTES} bytes, not ${key.length}`);
  return key;
}

/** The secrets in a file: one per line, newest first; blank lines and `#` comments are skipped. */
export function parseSecretFile(text: string): Webhook[] {
  const keys: Webhook[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      keys.push(new Webhook(decodeSecret(line), { format: 'raw' }));
    } catch (error) {
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

/**
 * Secrets read from files (e.g. a mounted Secret, which the kubelet updates in place on rotation): read at start,
 * so a bad file stops startup, and re-read at most every 10 s afterwards; a read that fails keeps the last good keys.
 */
export class SecretFiles {
  readonly #paths: readonly string[];
  #keys: Webhook[];
  #readAt: number;

  constructor(paths: readonly string[]) {
    this.#paths = paths;
    this.#keys = this.#read();
    this.#readAt = performance.now();
  }

  keys(): readonly Webhook[] {
    if (this.#paths.length && performance.now() - this.#readAt > REFRESH_MS) {
      this.#readAt = performance.now();
      try {
        this.#keys = this.#read();
      } catch {
        // keep the last good keys; the file is being replaced
      }
    }
    return this.#keys;
  }

  #read(): Webhook[] {
    return this.#paths.flatMap((path) => parseSecretFile(readFileSync(path, 'utf8')));
  }
}
