/**
 * CLI for the embedded Lease API (local runs and tests only, never production):
 *   node embedded-api/main.ts [--host 127.0.0.1] [--port 0] [--kubeconfig PATH] [--namespace default]
 * Prints one JSON line `{"url":...,"port":...,"kubeconfig":...}` once it is serving, then runs until SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { startEmbeddedApi } from './server.ts';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', default: 'default' },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`embedded API: --port must be 0-65535, got ${JSON.stringify(values.port)}`);
  process.exit(2);
}
const api = await startEmbeddedApi({ host: values.host, port });
if (values.kubeconfig) await api.writeKubeconfig(values.kubeconfig, { namespace: values.namespace });
console.error(`embedded Lease API for local runs and tests only (not for production), serving ${api.url}`);
console.log(JSON.stringify({ url: api.url, port: api.port, kubeconfig: values.kubeconfig ?? null }));

const stop = async (): Promise<void> => {
  await api.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
