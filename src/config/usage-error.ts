/** Bad input from the user: the CLI prints one line naming `subject` (a flag, variable or file) and exits with 2. */
export class UsageError extends Error {
  constructor(subject: string, message: string) {
    super(`${subject}: ${message}`);
    this.name = 'UsageError';
  }
}
