// Structured logs on stderr: quiet by default (warnings only), useful at debug.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(verbose: boolean, envLevel: string | undefined): Logger {
  const level = envLevel || (verbose ? "debug" : "warn");
  return pino({ level, base: { name: "vml-agent" } }, pino.destination(2));
}
