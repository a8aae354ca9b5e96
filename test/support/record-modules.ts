/**
 * A preload (`--import`) that appends the URL of every module the process resolves to the file named by
 * `LEADERHOOK_TEST_MODULES_LOG`, one per line: what a configuration makes leaderhook load.
 */
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const log = process.env.LEADERHOOK_TEST_MODULES_LOG;
if (log) {
  registerHooks({
    resolve(specifier, context, next) {
      const resolved = next(specifier, context);
      appendFileSync(log, `${resolved.url}\n`);
      return resolved;
    },
  });
}
