// vml-agent prune --keep-...: restic-style retention over every line's snapshots.
import { InvalidArgumentError, type Command } from "commander";
import { prune } from "../core/prune.js";
import { EXIT_HELP, globals, openContext, printJson, type Io } from "./io.js";
import { removalJson, renderRemoval } from "./delete.js";

const count = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a number");
  return Number(v);
};

export function register(program: Command, io: Io): void {
  program
    .command("prune")
    .description("keep the snapshots a retention policy names (the base and each line's latest always), delete the rest")
    .option("--keep-last <n>", "the n newest", count)
    .option("--keep-hourly <n>", "the newest of each of the last n hours that have one", count)
    .option("--keep-daily <n>", "the newest of each of the last n days that have one", count)
    .option("--keep-weekly <n>", "the newest of each of the last n weeks that have one", count)
    .option("--keep-monthly <n>", "the newest of each of the last n months that have one", count)
    .option("--keep-tag <tag>", "snapshots with this tag (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("-n, --dry-run", "print what would be kept and why, delete nothing")
    .addHelpText("after", `\nBuckets (hour, day, week, month) are counted in UTC.\n${EXIT_HELP}`)
    .action(async (o: { keepLast?: number; keepHourly?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number; keepTag?: string[]; dryRun?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g);
      const r = await prune(ctx, { last: o.keepLast, hourly: o.keepHourly, daily: o.keepDaily, weekly: o.keepWeekly, monthly: o.keepMonthly, tags: o.keepTag }, Boolean(o.dryRun));
      if (g.json) return printJson(io, { dryRun: Boolean(o.dryRun), keep: r.keep, remove: r.remove, ...(r.removal ? removalJson(r.removal) : {}) });
      for (const k of r.keep) io.out(`keep   ${k.id.slice(0, 12)}  ${k.time}  ${k.reasons.join("; ")}\n`);
      for (const k of r.remove) io.out(`${o.dryRun ? "would delete" : "delete"} ${k.id.slice(0, 12)}  ${k.time}\n`);
      if (r.removal) renderRemoval(io, r.removal);
    });
}
