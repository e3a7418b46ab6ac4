// Everything a core operation needs, resolved once per command.
import type { Config } from "./config.js";
import { Logbook } from "./logbook.js";
import { RuleSet } from "../model/rules.js";
import type { System } from "../platform/system.js";
import { createLogger, type Logger } from "../platform/log.js";
import { AGENT_VERSION } from "../platform/paths.js";
import type { Changes, RawChange } from "./diff.js";
import type { TreeModel } from "./tree-model.js";
import type { Shard } from "../model/manifest.js";
import type { PendingIndex } from "./quick-trees.js";
import type { Head } from "./snapshot.js";

export interface Progress {
  phase(name: string, total?: number): void;
  update(done: number, bytes?: number): void;
  done(): void;
}

/** What the daemon worked out ahead of its next snapshot, shared by the commands it runs. */
export interface Ahead {
  /** The difference between a snapshot's tree and the tree prepared after it (both immutable ids). */
  changes?: { from: string | undefined; to: string; changes: Changes };
  /** The line's latest snapshot as the daemon last saw it (another command may have moved it since). */
  head?: Head;
  /** The last tree the daemon looked at, in memory (see quick-trees.ts). */
  model?: TreeModel;
  /** Records (manifest shards, packages, env, cvmfs) of that tree the daemon has at hand, by blob id. */
  known?: Map<string, Buffer>;
  /** Shards of it the daemon parsed or rendered lately, by blob id. */
  parsed?: Map<string, Shard>;
  /** What the last quick look changed, from the tree before it to its own, and the shards it parsed or rendered, by blob id. */
  quick?: { from: string; to: string; raw: RawChange[]; shards: Map<string, Shard> };
  /** The index still to bring to the tree of the last quick look. */
  pending?: PendingIndex;
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
  ahead?: Ahead;
}

/** A context from a configuration already read (the daemon hands its own to a snapshot process). */
export function contextOf(sys: System, root: string, config: Config, verbose: boolean, progress?: Progress): Context {
  const log = createLogger(verbose, sys.env().VML_LOG_LEVEL);
  log.debug({ root, configFound: config.configFound, rules: config.rules.length }, "configured");
  return {
    sys,
    root,
    config,
    rules: new RuleSet(config.rules, config.globs),
    logbook: new Logbook(sys, root, log),
    log,
    agentVersion: AGENT_VERSION,
    progress,
  };
}
