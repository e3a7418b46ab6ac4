// What the daemon asks of a snapshot process, and what it answers (node's IPC channel, JSON).
import type { Config } from "../core/config.js";
import type { Trigger } from "../model/message.js";

export interface SnapshotRequest {
  root: string;
  /** The daemon's configuration: a file broken since it was read (and not reloaded) changes nothing. */
  config: Config;
  verbose: boolean;
  trigger: Trigger;
  /** The message's start; what changed is summarised after it. */
  prefix: string;
  /** Paths a watch named: only their folders are checked. None: everything is. */
  hints?: string[];
}

export type SnapshotReply = { id: string; unchanged: boolean; message?: string } | { error: string };
