// vml-agent commit -m MSG: record what changed since the last snapshot.
import type { Command } from "commander";
import { commit } from "../core/snapshot.js";
import { tidy } from "../core/tidy.js";
import { checkTagFree, tagSnapshot } from "../core/lines.js";
import type { ScanResult } from "../capture/scan.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";
import { changesJson, renderChanges, showPath } from "./render.js";

/** Files seen but not stored are said once, never silently dropped. */
export function reportScan(io: Io, s: ScanResult): void {
  const say = (what: string, list: Buffer[]) => {
    if (!list.length) return;
    const shown = list.slice(0, 10).map(showPath).join(", ");
    io.err(`note: ${list.length} ${what}: ${shown}${list.length > 10 ? ", ..." : ""}\n`);
  };
  say("special files (fifos, sockets, devices) listed, not stored", s.skipped);
  say("files over the size limit listed, not stored", s.large);
  say("folders could not be read", s.unreadable);
}

export function scanJson(s: ScanResult): Record<string, unknown> {
  return { skipped: s.skipped.map(showPath), large: s.large.map(showPath), unreadable: s.unreadable.map(showPath) };
}

export function register(program: Command, io: Io): void {
  program
    .command("commit")
    .description("record a snapshot of what changed since the last one")
    .requiredOption("-m, --message <text>", "why this snapshot (several lines allowed)")
    .option("--keep-env", "keep the environment recorded last instead of this shell's (for scheduled runs)")
    .option("-t, --tag <name>", "also name the snapshot (usable wherever a REF is)")
    .option("--rescan", "check every recorded folder and file, not only where the daemon's watch saw changes")
    .addHelpText("after", EXIT_HELP)
    .action(async (opts: { message: string; keepEnv?: boolean; tag?: string; rescan?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g, true);
      if (opts.tag) await checkTagFree(ctx.logbook, opts.tag);
      const record = (hints?: string[]) => commit(ctx, { message: opts.message, trigger: "manual", keepEnv: opts.keepEnv, describe: true, hints: opts.rescan ? undefined : hints });
      const res = io.daemon ? await io.daemon.userTurn(record) : await record();
      if (opts.tag) await tagSnapshot(ctx.logbook, res.id, opts.tag);
      const changes = res.changes;
      if (g.json) printJson(io, { id: res.id, unchanged: res.unchanged, parent: res.parent ?? null, ...(changes ? changesJson(changes) : {}), ...scanJson(res.scan) });
      else {
        if (res.unchanged) io.out(`Nothing changed since snapshot ${res.id.slice(0, 12)}; no new snapshot.\n`);
        else io.out(`Snapshot ${res.id}\n${renderChanges(changes!)}`);
        reportScan(io, res.scan);
      }
      // The daemon packs loose objects on its schedule; without it, the commit that finds them too
      // many packs them, once its answer is out (as git's own commit does).
      if (!io.daemon && !res.unchanged && ctx.logbook.packDue()) await tidy(ctx);
    });
}
