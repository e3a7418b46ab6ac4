// vml-agent log: the snapshots of the current line (or of REF), newest first.
import { InvalidArgumentError, type Command } from "commander";
import { history, resolveRef } from "../core/history.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";
import { snapshotJson } from "./render.js";

export function register(program: Command, io: Io): void {
  program
    .command("log")
    .description("list snapshots, newest first")
    .argument("[ref]", "start from this snapshot or line instead of the latest", "@")
    .option("-n, --max-count <n>", "show at most n snapshots", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a number");
      return Number(v);
    })
    .addHelpText("after", EXIT_HELP)
    .action(async (ref: string, opts: { maxCount?: number }, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      const list = await history(ctx.logbook, await resolveRef(ctx.logbook, ref), opts.maxCount);
      if (g.json) return printJson(io, { snapshots: list.map(snapshotJson) });
      for (const s of list) {
        const subject = s.message.split("\n")[0];
        io.out(`${s.id.slice(0, 12)}  ${s.time}  ${(s.meta.trigger ?? "?").padEnd(8)} ${subject}\n`);
      }
    });
}
