import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A kubeconfig whose current user's `token-file` must be refused, and the reason leaderhook gives. */
export interface BadTokenFile {
  name: string;
  /** The kubeconfig file. */
  kubeconfig: string;
  /** Its user's `token-file`, as named in the message. */
  tokenFile: string;
  reason: string;
}

/**
 * Kubeconfigs in `dir` whose user's `token-file` is a FIFO (reading it would block for good), /dev/zero and a symlink
 * to it (reading would fill memory), a directory and a file over 1 MiB. The server is `server`.
 */
export function badTokenFiles(dir: string, server = 'http://127.0.0.1:1'): BadTokenFile[] {
  mkdirSync(dir, { recursive: true });
  const fifo = join(dir, 'token-fifo');
  execFileSync('mkfifo', [fifo]);
  const directory = join(dir, 'token-dir');
  mkdirSync(directory);
  const big = join(dir, 'token-big');
  writeFileSync(big, 'x'.repeat(1024 * 1024 + 1));
  const link = join(dir, 'token-zero-link');
  symlinkSync('/dev/zero', link);
  const cases: Array<Omit<BadTokenFile, 'kubeconfig'>> = [
    { name: 'a FIFO', tokenFile: fifo, reason: 'not a regular file (a FIFO)' },
    { name: '/dev/zero', tokenFile: '/dev/zero', reason: 'not a regular file (a character device)' },
    { name: 'a directory', tokenFile: directory, reason: 'not a regular file (a directory)' },
    { name: 'a file over 1 MiB', tokenFile: big, reason: 'larger than 1 MiB, the limit for this file' },
    { name: 'a symlink to /dev/zero', tokenFile: link, reason: 'not a regular file (a character device)' },
  ];
  return cases.map((entry, index) => {
    const kubeconfig = join(dir, `kubeconfig-token-file-${index}`);
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: "${server}"}}]`,
        `users: [{name: u, user: {token-file: "${entry.tokenFile}"}}]`,
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    return { ...entry, kubeconfig };
  });
}
