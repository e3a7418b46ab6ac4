// `restore`: record the present, plan the way back to REF, apply it, and say what could not be done.
import type { Context } from "./context.js";
import type { TimeWriter } from "../platform/system.js";
import { commitLocked, stage, withLock } from "./snapshot.js";
import { planFiles, type FilePlan, type Refusal, type Step } from "./restore-plan.js";
import { applyFiles } from "./restore-apply.js";
import { foldersOf, removeJournal, writeJournal } from "./restore-journal.js";
import { addCvmfsRepos, applyPackages, checkCvmfs, envScript, planPackages, readRecords, writeEnvScript, ENV_SCRIPT, type CvmfsReport, type PackagePlan, type PackageResult, type Records } from "./restore-state.js";

export interface RestoreOptions {
  /** Resolved snapshot id, and how the user named it. */
  id: string;
  name: string;
  dryRun: boolean;
  paths: Buffer[];
  removePackages: boolean;
}

export interface RestoreReport {
  ref: string;
  dryRun: boolean;
  /** The automatic snapshot of the state before the restore (restore it to undo). */
  before?: string;
  steps: Step[];
  notRestored: Refusal[];
  timesExact: boolean;
  packages?: PackagePlan & Partial<PackageResult>;
  env?: { script: string; variables: string[] };
  cvmfs?: CvmfsReport & { added: string[] };
  complete: boolean;
}

export async function restore(ctx: Context, opts: RestoreOptions): Promise<RestoreReport> {
  ctx.logbook.requireExists();
  return withLock(ctx, async () => {
    // The helper that sets file times starts while the present is recorded and the plan made: the
    // first file written does not wait for it to start.
    const times = opts.dryRun ? undefined : ctx.sys.timeWriter();
    try {
      return await restoreLocked(ctx, opts, times);
    } finally {
      await times?.close();
    }
  });
}

async function restoreLocked(ctx: Context, opts: RestoreOptions, times: TimeWriter | undefined): Promise<RestoreReport> {
  const whole = opts.paths.length === 0;
  // Writing the environment script touches its folders: their recorded times are set again after.
  const scriptDirs = whole ? ["etc/profile.d", "etc"] : [];
  // The files' plan and the packages' (which queries the live package database) are made side by
  // side, from the present's tree as soon as it is written: the plan reads only, so it goes on
  // while the present is published. A snapshot's id names its tree wherever git wants one.
  let planned: { tree: string; plans: Promise<[FilePlan, Records, PackagePlan | undefined]> } | undefined;
  const plansFor = (tree: string) => {
    if (planned?.tree !== tree) {
      const recordsP = whole ? readRecords(ctx.logbook, opts.id) : Promise.resolve<Records>({});
      const plans = Promise.all([planFiles(ctx, opts.id, tree, opts.paths, scriptDirs), recordsP, whole ? recordsP.then((r) => planPackages(ctx, r.packages)) : undefined]);
      // Awaited below; a failure meanwhile is not an unhandled one.
      plans.catch(() => undefined);
      planned = { tree, plans };
    }
    return planned.plans;
  };
  let before: string | undefined;
  let liveTree: string;
  // A plan changes nothing: the environment the index holds stays the one recorded.
  if (opts.dryRun) liveTree = (await stage(ctx, { keepEnv: true })).tree;
  else {
    const c = await commitLocked(ctx, { message: `before restoring ${opts.name}`, trigger: "restore", staged: (tree) => void plansFor(tree) });
    before = c.id;
    liveTree = c.tree;
  }
  ctx.log.debug({ before }, "present recorded");
  const [plan, records, pkgPlan] = await plansFor(liveTree);
  ctx.log.debug({ steps: plan.steps.length, refused: plan.refused.length }, "planned");
  const env = envScript(records.env, opts.id);
  const report: RestoreReport = {
    ref: opts.id,
    dryRun: opts.dryRun,
    before,
    steps: plan.steps,
    notRestored: [...plan.refused],
    timesExact: true,
    packages: pkgPlan,
    env: env && { script: ENV_SCRIPT, variables: env.variables },
    complete: false,
  };
  if (opts.dryRun) {
    if (whole) report.cvmfs = { ...(await checkCvmfs(ctx, records.cvmfs)), added: [] };
  } else {
    const writing = plan.steps.filter((s) => s.action !== "remove").map((s) => s.key);
    writeJournal(ctx, { pid: ctx.sys.pid(), ref: opts.id, before, folders: foldersOf(writing) });
    const files = await applyFiles(ctx, plan, times!);
    // Every temporary name is gone by now (moved into place, or removed with its failure).
    removeJournal(ctx);
    report.steps = files.done;
    report.notRestored.push(...files.failed);
    // Written once the folders are as REF has them (a symlink the restore replaced is never written
    // through); the folders it writes in get their recorded times again.
    if (env) {
      try {
        writeEnvScript(ctx, env.text);
        const rootBuf = Buffer.from(ctx.root === "/" ? "" : ctx.root);
        for (const f of plan.folders) {
          if (scriptDirs.includes(f.path.toString("latin1"))) times!.set([{ path: Buffer.concat([rootBuf, Buffer.from("/"), f.path]), mtimeNs: f.entry.mtimeNs }]);
        }
      } catch (e) {
        report.env = undefined;
        report.notRestored.push({ path: Buffer.from(ENV_SCRIPT.slice(1)), reason: `environment not written: ${(e as Error).message}` });
      }
    }
    // Every time handed over is set before the disk is flushed.
    report.timesExact = await times!.close();
    ctx.log.debug("times set");
    if (pkgPlan) report.packages = { ...pkgPlan, ...(await applyPackages(ctx, pkgPlan, opts.removePackages)) };
    if (whole) {
      const first = await checkCvmfs(ctx, records.cvmfs);
      let added = first.missingConfig;
      if (added.length) {
        try {
          addCvmfsRepos(ctx, added);
        } catch (e) {
          added = [];
          report.notRestored.push({ path: Buffer.from("etc/cvmfs/default.local"), reason: `repositories not added: ${(e as Error).message}` });
        }
      }
      report.cvmfs = { ...(await checkCvmfs(ctx, records.cvmfs)), added };
    }
    await files.flushed;
    await ctx.sys.syncFs(ctx.root);
    ctx.log.debug("flushed");
  }
  report.complete =
    report.notRestored.length === 0 &&
    !report.packages?.failed?.length &&
    !report.cvmfs?.notMounted.length &&
    !report.cvmfs?.moved.length &&
    !report.cvmfs?.missingConfig.length;
  return report;
}
