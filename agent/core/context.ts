// Everything a core operation needs, resolved once per command.
import type { Config } from "./config.js";
import type { Logbook } from "./logbook.js";
import type { RuleSet } from "../model/rules.js";
import type { System } from "../platform/system.js";
import type { Logger } from "../platform/log.js";

export interface Progress {
  phase(name: string, total?: number): void;
  update(done: number, bytes?: number): void;
  done(): void;
}

export interface Context {
  sys: System;
  root: string;
  config: Config;
  rules: RuleSet;
  logbook: Logbook;
  log: Logger;
  agentVersion: string;
  progress?: Progress;
}
