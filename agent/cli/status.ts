// vml-agent status: what changed since the last snapshot and is not recorded yet.
import type { Command } from "commander";
import { look, withLock } from "../core/snapshot.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";
import { changesJson, renderChanges } from "./render.js";
import { reportScan, scanJson } from "./commit.js";

export function register(program: Command, io: Io): void {
  program
    .command("status")
    .description("show what changed since the last snapshot, not yet recorded")
    .option("--rescan", "check every recorded folder and file, not only where the daemon's watch saw changes")
    .addHelpText("after", EXIT_HELP)
    .action(async (opts: { rescan?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g, true);
      ctx.logbook.requireExists();
      const since = (hints?: string[]) =>
        withLock(ctx, async () => {
          const head = await ctx.logbook.revParse("HEAD");
          return { head, ...(await look(ctx, head, { hints: opts.rescan ? undefined : hints })) };
        });
      const { head, changes, scan } = io.daemon ? await io.daemon.userTurn(since, true) : await since();
      if (g.json) return printJson(io, { head: head ?? null, ...changesJson(changes), ...scanJson(scan) });
      io.out(`Since snapshot ${head?.slice(0, 12)}:\n${renderChanges(changes)}`);
      reportScan(io, scan);
    });
}
