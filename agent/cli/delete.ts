// vml-agent delete REF | delete --branch NAME: remove a snapshot or a whole line, for good.
import type { Command } from "commander";
import { resolveRef } from "../core/history.js";
import { removeSnapshots, type Removal } from "../core/rewrite.js";
import { withLock } from "../core/snapshot.js";
import { VmlError } from "../core/errors.js";
import { LINE_PREFIX, type Logbook } from "../core/logbook.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";

export function renderRemoval(io: Io, r: Removal): void {
  for (const id of r.removed) io.out(`Deleted snapshot ${id}\n`);
  for (const l of r.linesRemoved) io.out(`Deleted line "${l}"\n`);
  for (const t of r.tagsRemoved) io.out(`Deleted tag "${t}" (it named a deleted snapshot)\n`);
  if (r.renamed.size) {
    io.out("Snapshots after it were re-made on their new parent; their old ids still work:\n");
    for (const [a, b] of r.renamed) io.out(`  ${a} -> ${b}\n`);
  }
}

export function removalJson(r: Removal): Record<string, unknown> {
  return { removed: r.removed, linesRemoved: r.linesRemoved, tagsRemoved: r.tagsRemoved, renamed: Object.fromEntries(r.renamed) };
}

export function register(program: Command, io: Io): void {
  program
    .command("delete")
    .description("delete a snapshot (its changes fold into the next; what only it held is purged), or a whole line with --branch")
    .argument("[ref]", "the snapshot to delete")
    .option("--branch <name>", "delete the line NAME and the snapshots only it holds")
    .addHelpText("after", EXIT_HELP)
    .action(async (ref: string | undefined, opts: { branch?: string }, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      const lb = ctx.logbook;
      if (!ref === !opts.branch) throw new VmlError("USAGE", "delete takes a snapshot, or --branch NAME");
      let removal: Removal;
      if (opts.branch) {
        const tip = await lb.revParse(`${LINE_PREFIX}${opts.branch}`);
        if (!tip) throw new VmlError("UNKNOWN_REF", `no line named "${opts.branch}"`);
        removal = await withLock(ctx, async () => {
          const only = (await lb.gitText(["rev-list", `${LINE_PREFIX}${opts.branch}`, "--not", ...(await otherRefs(lb, opts.branch!))])).split("\n").filter(Boolean);
          const r = await removeSnapshots(ctx, new Set(), [opts.branch!]);
          r.removed.push(...only);
          return r;
        });
      } else {
        const id = await resolveRef(lb, ref!);
        removal = await withLock(ctx, () => removeSnapshots(ctx, new Set([id])));
      }
      if (g.json) return printJson(io, removalJson(removal));
      renderRemoval(io, removal);
    });
}

async function otherRefs(lb: Logbook, line: string): Promise<string[]> {
  const refs = (await lb.gitText(["for-each-ref", "--format=%(refname)", "refs/heads/", "refs/tags/", "refs/vml/"])).split("\n").filter(Boolean);
  return refs.filter((r) => r !== `${LINE_PREFIX}${line}`);
}
