// vml-agent diff [REF [REF]] [-- PATH...]: differences between snapshots, or from one to the live state.
import type { Command } from "commander";
import { resolveRef } from "../core/history.js";
import { diffSnapshots, type Changes } from "../core/diff.js";
import { look, withLock } from "../core/snapshot.js";
import { VmlError } from "../core/errors.js";
import { EXIT_HELP, globals, guestRelative, openContext, printJson, type Io } from "./io.js";
import { changesJson, renderChanges } from "./render.js";

export function register(program: Command, io: Io): void {
  program
    .command("diff")
    .description("compare two snapshots; with one REF, compare it with the live state; with none, the latest snapshot with the live state")
    .argument("[refs...]", "zero, one or two snapshots")
    .option("-p, --patch", "show text changes of files as a unified diff")
    .addHelpText("after", `\nLimit to paths with -- PATH... (paths as on the guest, e.g. /etc/hosts).\n${EXIT_HELP}`)
    .action(async (refs: string[], opts: { patch?: boolean }, cmd: Command) => {
      if (refs.length > 2) throw new VmlError("USAGE", "diff takes at most two snapshots; put paths after --");
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      const lb = ctx.logbook;
      const a = await resolveRef(lb, refs[0] ?? "@");
      const live = !refs[1];
      const paths = io.paths.map((p) => Buffer.from(guestRelative(p)));
      let b: string;
      let changes: Changes;
      if (live) ({ tree: b, changes } = await withLock(ctx, () => look(ctx, a, { paths })));
      else {
        b = await resolveRef(lb, refs[1]);
        changes = await diffSnapshots(lb, a, b, paths);
      }
      if (g.json) return printJson(io, { from: a, to: live ? "live" : b, ...changesJson(changes) });
      io.out(renderChanges(changes));
      if (opts.patch) {
        const specs = paths.length ? paths.map((p) => `:(literal)${p.toString()}`) : [".", ":(exclude).vml"];
        io.out(await lb.git(["diff", "--no-color", "--no-ext-diff", "--no-textconv", a, b, "--", ...specs]));
      }
    });
}
