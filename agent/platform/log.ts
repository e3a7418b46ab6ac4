// Logs on stderr: quiet by default (warnings only, as plain lines), structured (pino) and useful at
// debug. pino itself is loaded on the first log line, so a quiet run does not pay for it.
import { writeSync } from "node:fs";
import { createRequire } from "node:module";
import type { Logger as Pino } from "pino";

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
type Level = keyof typeof LEVELS;

export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export function createLogger(verbose: boolean, envLevel: string | undefined): Logger {
  const asked = envLevel && envLevel in LEVELS ? (envLevel as Level) : undefined;
  const level: Level = asked ?? (verbose ? "debug" : "warn");
  // Nobody asked for logs: what gets through is a warning for whoever typed the command (or reads
  // the daemon's journal), one plain line. Asked for, logs are pino's JSON lines, fields and all.
  const plain = !asked && !verbose;
  let pino: Pino | undefined;
  const emit = (at: Exclude<Level, "silent" | "trace" | "fatal">) => (obj: object | string, msg?: string) => {
    if (LEVELS[at] < LEVELS[level]) return;
    if (plain) {
      writeSync(2, `vml-agent: ${at === "warn" ? "warning" : at}: ${typeof obj === "string" ? obj : (msg ?? "")}\n`);
      return;
    }
    if (!pino) {
      const { pino: make } = createRequire(import.meta.url)("pino") as typeof import("pino");
      pino = make({ level, base: { name: "vml-agent" } }, make.destination({ fd: 2, sync: true }));
    }
    if (typeof obj === "string") pino[at](obj);
    else pino[at](obj, msg);
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
