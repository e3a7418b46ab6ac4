// One of the daemon's snapshots, taken in a process of its own. A snapshot that records 80,000 new
// files allocates a hundred megabytes that neither V8 nor glibc hands back to the system; a process
// that exits does. The daemon itself only watches and answers, and stays small.
import { contextOf } from "../core/context.js";
import { commitDescribed } from "../core/snapshot.js";
import { summarize } from "../model/summary.js";
import { NodeSystem } from "../platform/system.js";
import type { SnapshotReply, SnapshotRequest } from "./snapshot-request.js";

// The daemon decides when to stop and waits for this snapshot; a signal to the whole service (the
// unit's stop, a terminal's Ctrl-C) must not cut it short.
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => undefined);
// The daemon is gone (killed): end as a killed commit ends, which the next one recovers from.
process.on("disconnect", () => process.exit(1));

process.once("message", (message) => {
  const req = message as SnapshotRequest;
  const take = async (): Promise<SnapshotReply> => {
    try {
      const ctx = contextOf(new NodeSystem(), req.root, req.config, req.verbose);
      const r = await commitDescribed(ctx, req.trigger, (c) => summarize(req.prefix, c), req.hints);
      return { id: r.id, unchanged: r.unchanged, message: r.message };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  void take().then((reply) => process.send?.(reply, () => process.exit(0)));
});
