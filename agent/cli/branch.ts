// vml-agent branch [NAME [REF]] and switch NAME: lines of work, one per project.
import type { Command } from "commander";
import { createLine, listLines, switchLine } from "../core/lines.js";
import { resolveRef } from "../core/history.js";
import { EXIT } from "../core/errors.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";
import { renderReport, reportJson } from "./restore.js";

export function register(program: Command, io: Io): void {
  program
    .command("branch")
    .description("list the lines of work, or start a new one at the latest snapshot (or at REF)")
    .argument("[name]", "name of the new line")
    .argument("[ref]", "snapshot the line starts from", "@")
    .addHelpText("after", EXIT_HELP)
    .action(async (name: string | undefined, ref: string, _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      if (name) {
        const id = await resolveRef(ctx.logbook, ref);
        await createLine(ctx.logbook, name, id);
        if (g.json) return printJson(io, { line: name, id });
        return io.out(`Line "${name}" starts at snapshot ${id.slice(0, 12)}; \`vml-agent switch ${name}\` moves to it.\n`);
      }
      const lines = await listLines(ctx.logbook);
      if (g.json) return printJson(io, { lines });
      for (const l of lines) io.out(`${l.current ? "*" : " "} ${l.name.padEnd(20)} ${l.id.slice(0, 12)}\n`);
    });

  program
    .command("switch")
    .description("record the present on the current line, then restore the latest state of line NAME and continue on it")
    .argument("<name>", "line to move to")
    .addHelpText("after", EXIT_HELP)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g, true);
      const report = await switchLine(ctx, name);
      if (g.json) printJson(io, { line: name, ...reportJson(report) });
      else io.out(`Now on line "${name}".\n${renderReport(report)}`);
      if (!report.complete) io.exitCode = EXIT.partial;
    });
}
