import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';

/** Where to serve HTTP. */
export interface ListenAddress {
  /** `''` listens on every interface, as Go's `:4040` does. */
  host: string;
  port: number;
}

/** Starts serving `app`; resolves once listening, rejects with the listen error (e.g. EADDRINUSE). */
export function listen(app: Hono, address: ListenAddress): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: address.host || undefined, port: address.port }, () =>
      resolve(server),
    );
    server.once('error', reject);
  });
}

/**
 * Stops accepting connections and closes idle keep-alive ones; requests in progress are answered (end `/watch` streams
 * first: see `HttpAppOptions.closing`). Whatever is still open after `graceMs` milliseconds is cut.
 */
export function close(server: ServerType, graceMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => {
      if ('closeAllConnections' in server) server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}
