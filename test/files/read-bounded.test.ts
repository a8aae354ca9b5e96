import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readBoundedFile } from '../../src/files/read-bounded.ts';

const dir = mkdtempSync(join(tmpdir(), 'leaderhook-read-bounded-'));
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);

describe('readBoundedFile', () => {
  it('reads a regular file up to its limit, and refuses one byte more', () => {
    const exactly = join(dir, 'exactly');
    writeFileSync(exactly, 'é'.repeat(512)); // 1024 bytes
    assert.equal(readBoundedFile(exactly, 1024), 'é'.repeat(512));
    assert.throws(() => readBoundedFile(exactly, 1023), { message: 'larger than 1023 bytes, the limit for this file' });
  });

  it('a file whose size says 0 (under /proc) is read to its end, still within the limit', () => {
    assert.match(readBoundedFile('/proc/self/status', 64 * 1024), /^Name:/);
    assert.throws(() => readBoundedFile('/proc/self/status', 16), {
      message: 'larger than 16 bytes, the limit for this file',
    });
  });

  const refused: Array<[string, string, string]> = [
    ['a character device', '/dev/zero', 'not a regular file (a character device)'],
    ['a FIFO without a writer (never waited on)', fifo, 'not a regular file (a FIFO)'],
    ['a directory', dir, 'not a regular file (a directory)'],
  ];
  for (const [name, path, message] of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(() => readBoundedFile(path, 64 * 1024), { message });
    });
  }

  it('a file that cannot be opened throws the open error with its code', () => {
    assert.throws(() => readBoundedFile(join(dir, 'missing'), 1024), { code: 'ENOENT' });
  });
});
