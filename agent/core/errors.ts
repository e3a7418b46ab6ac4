// Typed errors with stable codes. The CLI maps them to exit codes in one place (exitCodeOf);
// tests assert on the code, never on the wording.

export const EXIT = { ok: 0, failed: 1, badInput: 2, partial: 3 } as const;

const BAD_INPUT_CODES = new Set([
  "USAGE",
  "BAD_CONFIG",
  "BAD_RULES",
  "UNKNOWN_REF",
  "NOT_A_DIRECTORY",
  "NO_LOGBOOK",
  "LOGBOOK_EXISTS",
  "BAD_INPUT",
]);

export type ErrorCode =
  | "USAGE"
  | "BAD_CONFIG"
  | "BAD_RULES"
  | "UNKNOWN_REF"
  | "NOT_A_DIRECTORY"
  | "NO_LOGBOOK"
  | "LOGBOOK_EXISTS"
  | "BAD_INPUT"
  | "LOCKED"
  | "GIT_FAILED"
  | "DISK_FULL"
  | "CAPTURE_FAILED";

/** Whether a complaint (git's stderr, an error's message) says the disk is full. */
export function saysDiskFull(text: string): boolean {
  return /No space left on device|Out of diskspace|ENOSPC|EDQUOT/i.test(text);
}

export class VmlError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "VmlError";
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.data };
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof VmlError) return BAD_INPUT_CODES.has(err.code) ? EXIT.badInput : EXIT.failed;
  return EXIT.failed;
}
