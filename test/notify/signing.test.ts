import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { FileValue } from '../../src/notify/file-value.ts';
import { decodeSecret, parseSecretFile, SecretFiles, signatureHeader } from '../../src/notify/signing.ts';
import { testEvent, testQueue, testTarget } from './helpers.ts';
import { Receiver } from './receiver.ts';

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** Standard Webhooks verification written from the specification, independent of the library that signs. */
function verifiesPerSpec(key: string, headers: Record<string, unknown>, body: string): boolean {
  const content = `${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`;
  const expected = createHmac('sha256', Buffer.from(key.slice('whsec_'.length), 'base64'))
    .update(content)
    .digest();
  return String(headers['webhook-signature'])
    .split(' ')
    .some((signature) => {
      const [version, value = ''] = signature.split(',');
      const actual = Buffer.from(value, 'base64');
      return version === 'v1' && actual.length === expected.length && timingSafeEqual(actual, expected);
    });
}
const dir = mkdtempSync(join(tmpdir(), 'leaderhook-signing-'));

describe('Standard Webhooks signing, verified by the standardwebhooks library', () => {
  const receivers: Receiver[] = [];
  after(() => Promise.all(receivers.map((r) => r.close())));

  test("a delivered request verifies with the receiver's secret", async () => {
    const key = secret();
    const file = join(dir, 'one');
    writeFileSync(file, `${key}\n`);
    const r = await Receiver.start();
    receivers.push(r);
    const { queue, push } = testQueue(testTarget(r.url), {
      secrets: new SecretFiles([new FileValue(file, parseSecretFile)]),
    });
    const event = testEvent(7, 'leadership.started', 'pod-a');
    push(event);
    await queue.idle();
    const request = r.received[0];
    assert.ok(request);
    const verified = new Webhook(key).verify(request.body, request.headers as Record<string, string>) as {
      type: string;
    };
    assert.equal(verified.type, 'leadership.started');
    assert.ok(
      verifiesPerSpec(key, request.headers, request.body),
      'an implementation written from the spec verifies it too',
    );
    assert.equal(request.headers['webhook-id'], event.id);
    assert.match(String(request.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/);
  });

  test('rotation: two secrets, newest first, give two signatures; a receiver with either verifies', async () => {
    const [newKey, oldKey] = [secret(), secret()];
    const file = join(dir, 'two');
    writeFileSync(file, `# rotated today\n${newKey}\n\n${oldKey}\n`);
    const r = await Receiver.start();
    receivers.push(r);
    const { queue, push } = testQueue(testTarget(r.url), {
      secrets: new SecretFiles([new FileValue(file, parseSecretFile)]),
    });
    push(testEvent(8));
    await queue.idle();
    const request = r.received[0];
    assert.ok(request);
    assert.equal(String(request.headers['webhook-signature']).split(' ').length, 2);
    for (const key of [newKey, oldKey]) {
      assert.doesNotThrow(() => new Webhook(key).verify(request.body, request.headers as Record<string, string>));
      assert.ok(verifiesPerSpec(key, request.headers, request.body));
    }
    assert.equal(verifiesPerSpec(secret(), request.headers, request.body), false);
    assert.throws(() => new Webhook(secret()).verify(request.body, request.headers as Record<string, string>));
  });

  test('the signature is the HMAC-SHA256 of id.timestamp.body under the decoded secret', () => {
    const key = secret();
    const header = signatureHeader(parseSecretFile(key), 'lh1_abc', 1_750_000_000, '{"a":1}');
    assert.ok(
      verifiesPerSpec(
        key,
        { 'webhook-id': 'lh1_abc', 'webhook-timestamp': 1_750_000_000, 'webhook-signature': header },
        '{"a":1}',
      ),
    );
    assert.equal(decodeSecret(key).length, 32);
  });

  test('bad secrets are refused with a message that does not quote them', () => {
    assert.throws(
      () => parseSecretFile('nope-not-a-secret\n'),
      (error: Error) =>
        /line 1: a secret must have the form whsec_/.test(error.message) && !error.message.includes('nope'),
    );
    assert.throws(() => parseSecretFile(`whsec_${Buffer.from('short').toString('base64')}`), /24 to 64 bytes/);
    assert.throws(() => parseSecretFile('\n# only a comment\n'), /no secret/);
  });
});
