// vml-agent show REF: one snapshot's metadata and what it changed.
import type { Command } from "commander";
import { resolveRef, snapshotInfo } from "../core/history.js";
import { diffSnapshots } from "../core/diff.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";
import { changesJson, renderChanges, renderSnapshotHeader, snapshotJson } from "./render.js";

export function register(program: Command, io: Io): void {
  program
    .command("show")
    .description("show a snapshot: who, when, why, and what it changed")
    .argument("[ref]", "snapshot (id, prefix, tag, line, base, @, @~N)", "@")
    .addHelpText("after", EXIT_HELP)
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      const info = await snapshotInfo(ctx.logbook, await resolveRef(ctx.logbook, ref));
      const changes = await diffSnapshots(ctx.logbook, info.parent, info.id);
      if (g.json) return printJson(io, { ...snapshotJson(info), ...changesJson(changes) });
      io.out(renderSnapshotHeader(info) + renderChanges(changes));
    });
}
