// A singleton job: every replica runs this process, only the leader runs the job, and the job stops the moment this
// replica stops leading — before any other replica can start it. On SIGTERM the job stops first, then the lock is
// released, so another replica takes over within milliseconds.
//
// Each run of the job prints `{"event":"started"|"stopped","id",...}` and, with JOB_LOG=FILE, appends the same line
// to FILE (replicas on one machine share it: its order is the order things happened). JOB_LOG_STEPS=1 adds a
// `{"event":"step","id","step"}` line for every step.
//
//   ID=a node job.mjs     # ELECTION (singleton-job), NAMESPACE, KUBECONFIG; LEASE_DURATION_MS, RENEW_DEADLINE_MS,
//                         # RETRY_PERIOD_MS (client-go's 15000, 10000, 2000)
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createElection, UsageError } from 'leaderhook';

const env = process.env;
const number = (name) => (env[name] === undefined ? undefined : Number(env[name]));

let election;
try {
  election = createElection({
    election: env.ELECTION ?? 'singleton-job',
    ...(env.NAMESPACE ? { namespace: env.NAMESPACE } : {}),
    ...(env.ID ? { identity: env.ID } : {}),
    ...(env.LEASE_DURATION_MS ? { leaseDurationMs: number('LEASE_DURATION_MS') } : {}),
    ...(env.RENEW_DEADLINE_MS ? { renewDeadlineMs: number('RENEW_DEADLINE_MS') } : {}),
    ...(env.RETRY_PERIOD_MS ? { retryPeriodMs: number('RETRY_PERIOD_MS') } : {}),
  });
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`job: ${error.message}\n`);
  process.exit(2);
}

function report(event, fields = {}) {
  const line = `${JSON.stringify({ event, id: election.identity, ...fields })}\n`;
  process.stdout.write(line);
  if (env.JOB_LOG) appendFileSync(env.JOB_LOG, line);
}

/** Whether this replica still leads, checked now: call it right before each action that needs leadership. */
function stillLeading(signal) {
  // leadingUntil() compares the last renew + renew deadline with the monotonic clock now, and past it stops leading
  // at once, which aborts the signal. After a pause (SIGSTOP, a long synchronous task), the job's own timer may fire
  // before the election's deadline timer: signal.aborted alone would still be false there.
  return election.leadingUntil() !== undefined && !signal.aborted;
}

/** The leader-only work: one step every 100 ms, each only while this replica still leads. */
async function job(signal) {
  report('started');
  let steps = 0;
  while (stillLeading(signal)) {
    steps += 1;
    if (env.JOB_LOG_STEPS === '1') report('step', { step: steps });
    await sleep(100, undefined, { signal }).catch(() => {});
  }
  // signal.reason is a NotLeadingError: lost, renew-deadline or shutdown.
  report('stopped', { reason: signal.reason?.reason, steps });
}

process.once('SIGTERM', () => {
  election.stop().then(() => process.exit(0));
});
election.start();
await election.runWhileLeading(job);
