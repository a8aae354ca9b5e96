/**
 * Real tools the tests run where users run them (promtool, Alertmanager, kubectl). A test that needs one skips, saying
 * how to install it, only when the tool is missing on a developer's machine; under CI (CI set, as .ci/run runs) a
 * missing tool fails the test, so CI cannot pass without running it.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

/** The tool's path on PATH, or undefined. */
export function findTool(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The tool's path; when it is missing, skips the test (a developer's machine) or throws (CI). `install` says how to
 * get it, e.g. `apt-get install prometheus`.
 */
export function requireTool(t: TestContext, command: string, install: string): string | undefined {
  const path = findTool(command);
  if (path) return path;
  if (process.env.CI) throw new Error(`${command} is not installed, and CI must run this test: ${install}`);
  t.skip(`${command} is not installed (${install}); CI installs it and runs this test`);
  return undefined;
}
