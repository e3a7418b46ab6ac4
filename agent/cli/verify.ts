// vml-agent verify: check the logbook; exit 1 with the problems listed when it is not sound.
import type { Command } from "commander";
import { verify } from "../core/verify.js";
import { counted } from "../model/summary.js";
import { EXIT } from "../core/errors.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";

export function register(program: Command, io: Io): void {
  program
    .command("verify")
    .description("check the logbook: git's own check, every ref, every snapshot's manifest against its content")
    .addHelpText("after", EXIT_HELP)
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      const r = await verify(ctx.logbook);
      if (g.json) printJson(io, { sound: r.problems.length === 0, ...r });
      else {
        for (const p of r.problems) io.out(`problem: ${p}\n`);
        io.out(`${counted(r.snapshots, "snapshot")} and ${counted(r.refs, "name")} checked: ${r.problems.length ? counted(r.problems.length, "problem") : "the logbook is sound"}.\n`);
        if (r.importGaps) io.out(`${counted(r.importGaps, "file content")} of imported snapshots never reached this machine (named at import; restore reports those paths).\n`);
      }
      if (r.problems.length) io.exitCode = EXIT.failed;
    });
}
