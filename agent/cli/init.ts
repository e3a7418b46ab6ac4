// vml-agent init: create the logbook and take the base snapshot.
import type { Command } from "commander";
import { init } from "../core/snapshot.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";
import { reportScan, scanJson } from "./commit.js";
import { counted } from "../model/summary.js";

export function register(program: Command, io: Io): void {
  program
    .command("init")
    .description("create the logbook (ROOT/var/lib/vml/logbook) and take the base snapshot")
    .option("--base <name>", "name of this machine's reference state (e.g. cernvm-5.1)")
    .option("--line <name>", "name of the first line of work", "main")
    .addHelpText("after", EXIT_HELP)
    .action(async (opts: { base?: string; line: string }, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g, true);
      if (opts.base) ctx.config.base = opts.base;
      const res = await init(ctx, opts.line);
      if (g.json) return printJson(io, { id: res.id, base: ctx.config.base, logbook: ctx.logbook.gitDir, files: res.scan.files, bytes: res.scan.bytes, ...scanJson(res.scan) });
      io.out(`Logbook created at ${ctx.logbook.gitDir}\nBase snapshot ${res.id} ("${ctx.config.base}"): ${counted(res.scan.files, "file")}, ${counted(res.scan.bytes, "byte")}\n`);
      reportScan(io, res.scan);
    });
}
