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

/** Stops accepting connections and ends open ones (SSE streams stay open otherwise). */
export function close(server: ServerType): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}
