// vml-agent restore REF [--dry-run] [PATH...]: bring the machine back to a recorded state.
import type { Command } from "commander";
import { resolveRef } from "../core/history.js";
import { restore, type RestoreReport } from "../core/restore.js";
import { EXIT } from "../core/errors.js";
import { EXIT_HELP, globals, guestRelative, openContext, printJson, type Io } from "./io.js";
import { showPath } from "./render.js";
import { counted } from "../model/summary.js";

const HEADING = {
  create: ["To create", "Created"],
  update: ["To update", "Updated"],
  replace: ["To replace (type changed)", "Replaced"],
  remove: ["To remove", "Removed"],
  metadata: ["To fix metadata of", "Metadata fixed"],
} as const;

export function reportJson(r: RestoreReport): Record<string, unknown> {
  const by = (a: string) => r.steps.filter((s) => s.action === a).map((s) => showPath(s.path));
  return {
    ref: r.ref,
    dryRun: r.dryRun,
    before: r.before ?? null,
    complete: r.complete,
    files: { created: by("create"), updated: by("update"), replaced: by("replace"), removed: by("remove"), metadata: by("metadata") },
    notRestored: r.notRestored.map((n) => ({ path: showPath(n.path), reason: n.reason })),
    timesExact: r.timesExact,
    packages: r.packages ?? null,
    env: r.env ?? null,
    cvmfs: r.cvmfs ?? null,
  };
}

export function renderReport(r: RestoreReport): string {
  const out: string[] = [];
  const will = r.dryRun ? "would" : "";
  out.push(r.dryRun ? `Plan to restore snapshot ${r.ref} (nothing is changed):` : `Restored snapshot ${r.ref}.`);
  if (r.before) out.push(`The state before was recorded as ${r.before}; \`vml-agent restore ${r.before.slice(0, 12)}\` undoes this restore.`);
  const counts = (["create", "update", "replace", "remove", "metadata"] as const).map((a) => [a, r.steps.filter((s) => s.action === a)] as const).filter(([, l]) => l.length);
  if (!counts.length) out.push("Files: nothing to change.");
  for (const [a, list] of counts) {
    out.push(`${HEADING[a][r.dryRun ? 0 : 1]} (${list.length}):`);
    for (const s of list.slice(0, r.dryRun ? list.length : 20)) out.push(`  ${showPath(s.path)}`);
    if (!r.dryRun && list.length > 20) out.push(`  ... and ${list.length - 20} more`);
  }
  if (r.notRestored.length) {
    out.push(`Not restored (${r.notRestored.length}):`);
    for (const n of r.notRestored) out.push(`  ${showPath(n.path)}: ${n.reason}`);
  }
  if (!r.timesExact) out.push("Times were restored to the microsecond only (python3 is needed for nanoseconds).");
  const p = r.packages;
  const pkgs = (l: string[]) => l.map((x) => x.replace("\t", " ")).join(", ");
  if (p?.format) {
    if (p.installed?.length) out.push(`Packages installed: ${pkgs(p.installed)}`);
    else if (p.install.length) out.push(`Packages ${will ? "to install" : "missing"}: ${pkgs(p.install)}`);
    if (p.failed?.length) out.push(`Packages that could not be installed: ${pkgs(p.failed)}`);
    if (p.removed?.length) out.push(`Packages removed: ${pkgs(p.removed)}`);
    if (p.extra.length) out.push(`Packages not in the snapshot (kept; --remove-packages removes them): ${pkgs(p.extra)}`);
  }
  if (r.env?.variables.length) {
    out.push(`Environment: ${counted(r.env.variables.length, "variable")} ${r.dryRun ? "would be " : ""}written to ${r.env.script} (${r.env.variables.slice(0, 8).join(", ")}${r.env.variables.length > 8 ? ", ..." : ""}); log in again to pick them up.`);
  }
  const c = r.cvmfs;
  if (c) {
    if (c.added.length) out.push(`CernVM-FS: added to /etc/cvmfs/default.local: ${c.added.join(", ")}`);
    if (c.missingConfig.length) out.push(`CernVM-FS: not configured: ${c.missingConfig.join(", ")}`);
    if (c.notMounted.length) out.push(`CernVM-FS: not mounted (check with \`cvmfs_config probe\`): ${c.notMounted.join(", ")}`);
    for (const m of c.moved) out.push(`CernVM-FS: ${m.name} moved from revision ${m.recorded} to ${m.now ?? "?"}; to pin it, set ${m.pin}`);
  }
  out.push(r.complete ? (r.dryRun ? "Everything can be restored." : "Everything was restored.") : r.dryRun ? "Some of it cannot be restored (see above)." : "Some of it was not restored (see above): redo it by hand.");
  return out.join("\n") + "\n";
}

export function register(program: Command, io: Io): void {
  program
    .command("restore")
    .description("bring the machine back to a snapshot's state: files, packages, environment, CernVM-FS; the present state is recorded first")
    .argument("<ref>", "snapshot (id, prefix, tag, line, base, @, @~N)")
    .argument("[paths...]", "restore only these paths (files or folders, as on the guest)")
    .option("-n, --dry-run", "print the plan, change nothing")
    .option("--remove-packages", "also remove packages the snapshot does not have")
    .addHelpText("after", EXIT_HELP)
    .action(async (ref: string, paths: string[], opts: { dryRun?: boolean; removePackages?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const ctx = await openContext(io, g, true);
      const id = await resolveRef(ctx.logbook, ref);
      // "/" means everything: the same as no path at all.
      const all = [...paths, ...io.paths].map(guestRelative).filter((p) => p !== "").map((p) => Buffer.from(p));
      const report = await restore(ctx, { id, name: ref, dryRun: Boolean(opts.dryRun), paths: all, removePackages: Boolean(opts.removePackages) });
      if (g.json) printJson(io, reportJson(report));
      else io.out(renderReport(report));
      if (!report.complete) io.exitCode = EXIT.partial;
    });
}
