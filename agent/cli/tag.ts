// vml-agent tag [REF NAME]: name a snapshot, or list the names.
import type { Command } from "commander";
import { listTags, tagSnapshot } from "../core/lines.js";
import { resolveRef } from "../core/history.js";
import { VmlError } from "../core/errors.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";

export function register(program: Command, io: Io): void {
  program
    .command("tag")
    .description("name snapshot REF as NAME (usable wherever a REF is), or list the tags")
    .argument("[ref]", "snapshot to name")
    .argument("[name]", "the tag")
    .addHelpText("after", EXIT_HELP)
    .action(async (ref: string | undefined, name: string | undefined, _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      if (ref && !name) throw new VmlError("USAGE", "tag takes a snapshot and a name: vml-agent tag REF NAME");
      if (ref && name) {
        const id = await resolveRef(ctx.logbook, ref);
        await tagSnapshot(ctx.logbook, id, name);
        return g.json ? printJson(io, { tag: name, id }) : io.out(`Tagged ${id.slice(0, 12)} as "${name}".\n`);
      }
      const tags = await listTags(ctx.logbook);
      if (g.json) return printJson(io, { tags });
      for (const t of tags) io.out(`${t.name.padEnd(24)} ${t.id.slice(0, 12)}\n`);
    });
}
