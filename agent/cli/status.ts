// vml-agent status: what changed since the last snapshot and is not recorded yet.
import type { Command } from "commander";
import { stage, withLock } from "../core/snapshot.js";
import { diffSnapshots } from "../core/diff.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";
import { changesJson, renderChanges } from "./render.js";
import { reportScan, scanJson } from "./commit.js";

export function register(program: Command, io: Io): void {
  program
    .command("status")
    .description("show what changed since the last snapshot, not yet recorded")
    .addHelpText("after", EXIT_HELP)
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = openContext(io, g, true);
      ctx.logbook.requireExists();
      const { head, changes, scan } = await withLock(ctx, async () => {
        const staged = await stage(ctx);
        const head = await ctx.logbook.revParse("HEAD");
        return { head, scan: staged.scan, changes: await diffSnapshots(ctx.logbook, head, staged.tree) };
      });
      if (g.json) return printJson(io, { head: head ?? null, ...changesJson(changes), ...scanJson(scan) });
      io.out(`Since snapshot ${head?.slice(0, 12)}:\n${renderChanges(changes)}`);
      reportScan(io, scan);
    });
}
