// Structured logs on stderr: quiet by default (warnings only), useful at debug. pino itself is loaded
// on the first message that passes the level, so a quiet run does not pay for it.
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
  const level: Level = envLevel && envLevel in LEVELS ? (envLevel as Level) : verbose ? "debug" : "warn";
  let pino: Pino | undefined;
  const emit = (at: Exclude<Level, "silent" | "trace" | "fatal">) => (obj: object | string, msg?: string) => {
    if (LEVELS[at] < LEVELS[level]) return;
    if (!pino) {
      const { pino: make } = createRequire(import.meta.url)("pino") as typeof import("pino");
      pino = make({ level, base: { name: "vml-agent" } }, make.destination({ fd: 2, sync: true }));
    }
    if (typeof obj === "string") pino[at](obj);
    else pino[at](obj, msg);
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
