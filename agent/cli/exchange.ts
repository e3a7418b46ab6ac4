// vml-agent export REF [--from REF0] [--thin] -o FILE  and  import FILE [--as NAME].
import type { Command } from "commander";
import { resolveRef } from "../core/history.js";
import { exportSnapshots, importSnapshots } from "../core/exchange.js";
import { withLock } from "../core/snapshot.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";
import { showPath } from "./render.js";
import { counted } from "../model/summary.js";

export function register(program: Command, io: Io): void {
  program
    .command("export")
    .description("write REF and its history since --from (default: the base) to one file another machine can import")
    .argument("<ref>", "the snapshot to export")
    .requiredOption("-o, --output <file>", "the file to write")
    .option("--from <ref>", "the earliest snapshot exported (the receiver needs its base content)", "base")
    .option("--thin", "leave out the --from snapshot's structure too: for a receiver that already holds it")
    .addHelpText("after", EXIT_HELP)
    .action(async (ref: string, o: { output: string; from: string; thin?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      const id = await resolveRef(ctx.logbook, ref);
      const from = await resolveRef(ctx.logbook, o.from);
      const { bytes, header } = await exportSnapshots(ctx, { ref: id, from, line: await ctx.logbook.currentLine(), thin: Boolean(o.thin) }, o.output);
      if (g.json) return printJson(io, { file: o.output, bytes, ...header });
      io.out(`Exported ${counted(header.snapshots.length - 1, "snapshot")} up to ${id.slice(0, 12)} (from ${from.slice(0, 12)}) to ${o.output}: ${bytes} bytes.\n`);
    });

  program
    .command("import")
    .description("add the snapshots of an export file as a line of work (the live files are not touched; restore or switch to use them)")
    .argument("<file>", "a file made by `vml-agent export`")
    .option("--as <name>", "name of the new line (default: the exporter's line, prefixed imported-)")
    .addHelpText("after", EXIT_HELP)
    .action(async (file: string, o: { as?: string }, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      ctx.logbook.requireExists();
      const res = await withLock(ctx, () => importSnapshots(ctx, file, o.as));
      if (g.json) {
        return printJson(io, { line: res.line, ref: res.header.ref, snapshots: res.header.snapshots, rebuilt: res.rebuilt, missing: res.missing.map(showPath) });
      }
      io.out(`Imported ${res.header.snapshots.length} snapshots as line "${res.line}" (latest ${res.header.ref.slice(0, 12)}).\n`);
      if (res.rebuilt) io.out(`${res.rebuilt} base files were rebuilt from identical files on this machine.\n`);
      if (res.missing.length) {
        io.out(`This machine lacks the base content of ${counted(res.missing.length, "path")}; restoring them will be reported, not done:\n`);
        for (const p of res.missing) io.out(`  ${showPath(p)}\n`);
      }
      io.out(`\`vml-agent switch ${res.line}\` (or \`vml-agent restore ${res.header.ref.slice(0, 12)}\`) brings that state here.\n`);
    });
}
