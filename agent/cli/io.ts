// What a command needs from its invocation: global options, output streams, the system.
// Commands never reach for `process`; main.ts fills this in.
import { Command } from "commander";
import { readConfig } from "../core/config-cache.js";
import { contextOf, type Context, type Progress } from "../core/context.js";
import { VmlError } from "../core/errors.js";
import type { System } from "../platform/system.js";
import { BUILD, SHIPPED_RULES_DIR } from "../platform/paths.js";
import { terminalProgress } from "./progress.js";

export interface Io {
  sys: System;
  out(text: string | Buffer): void;
  err(text: string): void;
  stderrIsTTY: boolean;
  /** Operands after a literal `--` (paths), split off before parsing. */
  paths: string[];
  /** Set when the daemon runs the command. */
  daemon?: {
    /** The daemon's root, configuration and rules, as its last start or SIGHUP accepted them. */
    context(): Context;
    /**
     * Runs `fn` in the daemon's turn, given the paths its watch saw change since the last snapshot
     * (undefined: check everything); taken by a snapshot, only looked at with `peek`.
     */
    userTurn<T>(fn: (hints: string[] | undefined) => Promise<T>, peek?: boolean): Promise<T>;
  };
  /** Set by a command that finished in part (exit 3); success otherwise. */
  exitCode?: number;
}

export interface GlobalOptions {
  root: string;
  config?: string;
  json?: boolean;
  verbose?: boolean;
}

export const EXIT_HELP = `
Exit codes:
  0  done
  1  failed; nothing was changed
  2  bad usage or bad input (unknown REF, malformed configuration, no logbook, root not a directory)
  3  done in part; the report says what was not`;

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export async function openContext(io: Io, g: GlobalOptions, withProgress = false): Promise<Context> {
  const { sys } = io;
  if (io.daemon) {
    // The caller's own system (their environment is recorded) over the daemon's configuration and
    // logbook (whose git processes it keeps open).
    return { ...io.daemon.context(), sys, progress: undefined };
  }
  const root = g.root.length > 1 ? g.root.replace(/\/+$/, "") : g.root;
  if (sys.lstat(root)?.kind !== "dir") throw new VmlError("NOT_A_DIRECTORY", `--root ${g.root}: not a directory`);
  const config = await readConfig(sys, root, SHIPPED_RULES_DIR, BUILD, g.config);
  const progress: Progress | undefined = withProgress && io.stderrIsTTY && !g.json ? terminalProgress(io, sys) : undefined;
  return contextOf(sys, root, config, Boolean(g.verbose), progress);
}

/** A path as the user types it on the guest ("/etc/hosts", "etc/hosts/") → relative to the root. */
export function guestRelative(p: string): string {
  const parts = p.split("/").filter((x) => x !== "" && x !== ".");
  if (parts.includes("..")) throw new VmlError("USAGE", `${p}: paths with .. are not accepted; give the path from the guest's root`);
  return parts.join("/");
}

export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
}
