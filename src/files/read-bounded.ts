import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** A file leaderhook will not read: not a regular file, or larger than its limit. The message never quotes content. */
class FileRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileRefusedError';
  }
}

/**
 * Reads a text file from outside (a secret, a URL, a header value, a config file) within bounds: the file is opened
 * non-blocking and checked with fstat before anything is read, so a FIFO never blocks and a device such as /dev/zero is
 * never read; only a regular file of at most `maxBytes` bytes is read, and never more than `maxBytes` + 1 bytes of it
 * (a file that grows while read is refused too). Symbolic links are followed (Kubernetes mounts Secrets through them).
 *
 * Throws the open error (`code` ENOENT, EACCES, …) when the file cannot be opened, else a FileRefusedError.
 */
export function readBoundedFile(path: string, maxBytes: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = checkOpenFile(fd, maxBytes);
    // Sizes can lie (files under /proc say 0): read until the end, but never past the limit.
    let buffer = Buffer.alloc(Math.min(maxBytes, Math.max(stats.size, 4096)) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw tooLarge(maxBytes);
        const grown = Buffer.alloc(Math.min(maxBytes + 1, buffer.length * 2));
        buffer.copy(grown);
        buffer = grown;
      }
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) return buffer.toString('utf8', 0, length);
      length += read;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks, without reading it, that `path` is now a regular file of at most `maxBytes` bytes, as readBoundedFile does
 * before it reads: for a file another library is about to read. Throws as readBoundedFile does.
 */
export function checkBoundedFile(path: string, maxBytes: number): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    checkOpenFile(fd, maxBytes);
  } finally {
    closeSync(fd);
  }
}

function checkOpenFile(fd: number, maxBytes: number): Stats {
  const stats = fstatSync(fd);
  if (!stats.isFile()) throw new FileRefusedError(`not a regular file (${fileKind(stats)})`);
  if (stats.size > maxBytes) throw tooLarge(maxBytes);
  return stats;
}

function tooLarge(maxBytes: number): FileRefusedError {
  return new FileRefusedError(`larger than ${formatBytes(maxBytes)}, the limit for this file`);
}

function fileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a plain file';
}

/** `64 KiB`, `1 MiB`, or bytes. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
