/**
 * Bad input: what is wrong and what to fix. The CLI prints the message (one line naming `subject`) and exits with 2;
 * `createElection` throws it for an invalid option.
 */
export class UsageError extends Error {
  /** What to fix: an option (`leaseDurationMs`), a flag (`--lease-duration`), an environment variable or a file. */
  readonly subject: string;

  /** The message reads `<subject>: <message>`. */
  constructor(subject: string, message: string) {
    super(`${subject}: ${message}`);
    this.name = 'UsageError';
    this.subject = subject;
  }
}
