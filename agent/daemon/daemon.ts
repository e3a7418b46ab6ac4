// The daemon: hints from the watch settle into automatic snapshots. One snapshot at a time, each in a
// process of its own (snapshot-process.ts), so what a large one allocates is not kept; close()
// finishes the one in progress and releases every watcher and timer.
import type { Context } from "../core/context.js";
import { dueAt, type SettleState } from "./settle.js";
import { isPackageDb, watchTree } from "./watcher.js";
import type { FolderWatch } from "../platform/folder-watch.js";
import { keepHeapSmall, releaseMemory, youngGenerationGrows } from "../platform/memory.js";
import { prune } from "../core/prune.js";
import { prepare, readyQuick, withLock } from "../core/snapshot.js";
import { settleIndex } from "../core/quick-trees.js";
import { tidy } from "../core/tidy.js";
import { counted } from "../model/summary.js";
import { SNAPSHOT_PROCESS } from "../platform/paths.js";
import type { Trigger } from "../model/message.js";
import type { SnapshotReply, SnapshotRequest } from "./snapshot-request.js";
import { schedule as cron, type ScheduledTask } from "node-cron";

export interface DaemonEvents {
  snapshot(id: string, message: string, ms: number): void;
  error(message: string): void;
  /** Something worth a line in the log (a schedule that waited, a prune's result). */
  note(message: string): void;
}

/**
 * Quiet time after the last change before the daemon takes the changes into the logbook's index (no
 * snapshot yet), so that a `commit` typed afterwards only writes its commit. Longer than a snapshot
 * distrusts a file's timestamps for (2 s): a file taken in earlier would be read again by the commit.
 */
const PREPARE_AFTER_MS = 2500;
/** Quiet after a quick commit before the index catches up with it. */
const SETTLE_AFTER_MS = 1000;
/** More paths than this wait for the snapshot, which runs in a process of its own. */
const PREPARE_MAX_HINTS = 256;

/** What a turn does with the paths the watch named: takes them for a snapshot, takes them into the index only, or keeps them for the next (a look, housekeeping). */
type TurnKind = "snapshot" | "prepare" | "keep";

export class Daemon {
  private state: SettleState = {};
  /** Paths the watch named that nothing has looked at since. */
  private hints = new Set<string>();
  /** The package database changed since the last snapshot. */
  private packagesChanged = false;
  private timer?: ReturnType<typeof setTimeout>;
  private prepareTimer?: ReturnType<typeof setTimeout>;
  private settleTimer?: ReturnType<typeof setTimeout>;
  private watcher?: FolderWatch;
  private tasks: ScheduledTask[] = [];
  private running?: Promise<void>;
  private closed = false;
  /** The watch failed somewhere (out of inotify watches, a folder it could not follow): its hints may miss changes. */
  private blind = false;

  private ctx: Context;

  constructor(
    ctx: Context,
    private readonly events: DaemonEvents,
    private readonly verbose = false,
  ) {
    this.ctx = { ...ctx, ahead: {} };
    this.ctx.logbook.keepOpen();
  }

  /** The watch first, then a full check for what changed while no daemon ran: nothing falls between. */
  async start(): Promise<void> {
    keepHeapSmall();
    await this.watch();
    await this.auto("auto (start-up check)", "auto", true);
    this.scheduleJobs();
  }

  /** The cron schedules. A job that fires while a snapshot runs waits for it, and says so. */
  private scheduleJobs(): void {
    const s = this.ctx.config.schedule;
    const job = (name: string, expr: string, fn: () => Promise<void>) => {
      if (!expr) return;
      this.tasks.push(
        cron(
          expr,
          async () => {
            if (this.closed) return;
            if (this.running) this.events.note(`schedule ${name} waits for the snapshot in progress`);
            await fn();
          },
          { name: `vml-${name}`, noOverlap: true },
        ),
      );
    };
    job("snapshot", s.snapshot, () => this.auto("scheduled", "schedule", false));
    job("rescan", s.rescan, async () => {
      await this.auto("rescan", "schedule", true);
      await this.tidy();
    });
    job("prune", s.prune, async () => {
      while (this.running) await this.running;
      try {
        const r = await prune(this.ctx, this.ctx.config.pruneKeep, false);
        this.events.note(`prune kept ${counted(r.keep.length, "snapshot")} and deleted ${r.remove.length}`);
      } catch (e) {
        this.events.error(`prune failed: ${(e as Error).message}`);
      }
    });
  }

  /** git's housekeeping, in a turn of its own (it takes no paths). */
  private async tidy(): Promise<void> {
    try {
      const packed = await this.turn(() => tidy(this.ctx), "keep");
      if (packed > 0) this.events.note(`tidied the logbook: ${packed} loose objects packed or pruned`);
    } catch (e) {
      this.events.error(`tidying the logbook failed: ${(e as Error).message}`);
    }
  }

  private async stopJobs(): Promise<void> {
    for (const t of this.tasks) await t.destroy();
    this.tasks = [];
  }

  private async watch(): Promise<void> {
    const { sys, root, rules } = this.ctx;
    this.blind = false;
    youngGenerationGrows(false);
    this.watcher = watchTree(root, rules, (p) => sys.exists(p), (rel) => this.hint(rel), (e) => {
      if (!this.blind) this.events.note("from now on every snapshot checks every folder, until the daemon restarts or reloads");
      this.blind = true;
      this.events.error(`watch: ${(e as Error).message}`);
    });
    await this.watcher.ready;
    releaseMemory();
    youngGenerationGrows(true);
    this.checkWatchLimit(this.watcher.watches());
  }

  /** inotify drops nothing silently below its limit: stay well below it, raising it when allowed. */
  private checkWatchLimit(watches: number): void {
    const file = "/proc/sys/fs/inotify/max_user_watches";
    const { sys } = this.ctx;
    if (!sys.exists(file)) return;
    const limit = Number(sys.readFile(file).toString().trim());
    if (!(watches > limit * 0.8)) return;
    const wanted = Math.max(watches * 2, limit);
    try {
      sys.writeFile(file, `${wanted}\n`);
      this.events.note(`${watches} watches: raised fs.inotify.max_user_watches from ${limit} to ${wanted}`);
    } catch {
      this.events.error(`${watches} watches is close to fs.inotify.max_user_watches (${limit}); raise it (sysctl fs.inotify.max_user_watches=${wanted}) or changes may go unseen until the next rescan`);
    }
  }

  private hint(rel: string): void {
    if (this.closed) return;
    const now = this.ctx.sys.now().getTime();
    this.state.firstHint ??= now;
    this.state.lastHint = now;
    this.hints.add(rel);
    if (isPackageDb(rel)) this.packagesChanged = true;
    this.schedule();
    this.armPrepare();
  }

  private armPrepare(): void {
    if (this.prepareTimer) clearTimeout(this.prepareTimer);
    this.prepareTimer = this.closed ? undefined : setTimeout(() => void this.prepare(), PREPARE_AFTER_MS);
  }

  /** Quiet for a moment: what changed goes into the index now, while nobody waits for it. */
  private async prepare(): Promise<void> {
    this.prepareTimer = undefined;
    if (this.running || this.closed || this.blind || !this.hints.size || this.hints.size > PREPARE_MAX_HINTS) return;
    await this.turn((hints) => prepare(this.ctx, hints!), "prepare").catch((e: Error) => this.ctx.log.debug({ err: e.message }, "not prepared"));
  }

  private config() {
    const w = this.ctx.config.watch;
    return { settle: w.settle * 1000, maxDelay: w.maxDelay * 1000, minInterval: w.minInterval * 1000 };
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const at = dueAt(this.state, this.config());
    if (at === undefined || this.closed) return;
    this.timer = setTimeout(() => void this.fire(), Math.max(0, at - this.ctx.sys.now().getTime()));
  }

  private async fire(): Promise<void> {
    this.timer = undefined;
    // The one in progress reschedules when done; a user's snapshot may have taken the changes.
    if (this.running || this.state.firstHint === undefined) return;
    await this.auto("auto", "auto", false);
  }

  /**
   * An automatic snapshot, after the one in progress. `checkAll` (start-up, rescan): every folder is
   * checked, whatever the watch saw. A failure is reported, never thrown.
   */
  private async auto(prefix: string, trigger: Trigger, checkAll: boolean): Promise<void> {
    await this.turn(async (hints, packages) => {
      await this.snapshot(packages ? "package transaction" : prefix, packages ? "package" : trigger, checkAll ? undefined : hints);
    }, "snapshot").catch(() => undefined);
  }

  /**
   * A user's snapshot, taken in the daemon's turn: after the one in progress, with the paths the
   * watch saw since the last snapshot (as git's fsmonitor hands them to git), or undefined when the
   * watch cannot vouch for them. A failure hands them back: the next snapshot looks there again.
   * `peek` (status): the paths are looked at, not taken; the next snapshot still records them.
   */
  async userTurn<T>(fn: (hints: string[] | undefined) => Promise<T>, peek = false): Promise<T> {
    // Events the kernel queued before the request came in are delivered first.
    await new Promise((r) => setImmediate(r));
    try {
      return await this.turn(fn, peek ? "keep" : "snapshot");
    } finally {
      // Once commits stop coming: the index catches up with a tree written the quick way (a quick
      // commit right after goes on from that tree without waiting for it).
      if (this.settleTimer) clearTimeout(this.settleTimer);
      this.settleTimer = this.ctx.ahead!.pending && !this.closed ? setTimeout(() => void this.settle(), SETTLE_AFTER_MS) : undefined;
    }
  }

  private async settle(): Promise<void> {
    this.settleTimer = undefined;
    await this.turn(() => this.settleLocked(0), "keep");
  }

  /** The index catches up with a quick look's tree; false when it could not (the logbook busy, git failing). */
  private settleLocked(waitMs?: number): Promise<boolean> {
    return withLock(this.ctx, () => settleIndex(this.ctx), waitMs).then(
      () => true,
      (e: Error) => {
        this.ctx.log.debug({ err: e.message }, "index not settled yet");
        return false;
      },
    );
  }

  /**
   * Runs `fn` once the turn in progress is over, with the paths named since the last look (and
   * whether the package database changed since the last snapshot); paths named meanwhile wait for
   * the next turn.
   */
  private async turn<T>(fn: (hints: string[] | undefined, packages: boolean) => Promise<T>, kind: TurnKind): Promise<T> {
    while (this.running) await this.running;
    const hinted = [...this.hints];
    const packages = this.packagesChanged;
    if (kind !== "keep") this.hints.clear();
    if (kind === "snapshot") {
      this.packagesChanged = false;
      this.state.firstHint = this.state.lastHint = undefined;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    }
    const run = fn(this.blind ? undefined : hinted, packages);
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await run;
    } catch (e) {
      if (kind !== "keep") for (const h of hinted) this.hints.add(h);
      if (kind === "snapshot") this.packagesChanged ||= packages;
      throw e;
    } finally {
      this.running = undefined;
      if (kind === "snapshot") this.state.lastSnapshot = this.ctx.sys.now().getTime();
      if (this.hints.size) {
        this.state.firstHint ??= this.state.lastSnapshot;
        this.state.lastHint ??= this.state.lastSnapshot;
        this.armPrepare();
      }
      // A snapshot that came due meanwhile waited for this turn.
      this.schedule();
    }
  }

  /** With hints, only their folders are checked; without (start-up, rescan), everything is. */
  private async snapshot(prefix: string, trigger: Trigger = "auto", hints?: string[]): Promise<void> {
    const started = this.ctx.sys.now().getTime();
    try {
      // The snapshot process trusts the index and the watch: the index first takes what a quick look
      // of this one's took, or that process looks at everything.
      const settled = !this.ctx.ahead!.pending || (await this.settleLocked());
      const request: SnapshotRequest = { root: this.ctx.root, config: this.ctx.config, verbose: this.verbose, trigger, prefix, hints: settled ? hints : undefined };
      // The snapshot process moves the line: what this process knew of it is out of date.
      this.ctx.ahead!.head = undefined;
      const r = (await this.ctx.sys.runChild(SNAPSHOT_PROCESS, [this.ctx.root], request)) as SnapshotReply;
      if ("error" in r) throw new Error(r.error);
      // The snapshot process wrote the index: the quick way starts from its tree (work no one waits on).
      await withLock(this.ctx, () => readyQuick(this.ctx), 0).catch((e: Error) => this.ctx.log.debug({ err: e.message }, "quick way not made ready"));
      if (!r.unchanged) this.events.snapshot(r.id, r.message ?? prefix, this.ctx.sys.now().getTime() - started);
    } catch (e) {
      this.events.error(`snapshot failed: ${(e as Error).message}`);
      throw e;
    }
  }

  context(): Context {
    return this.ctx;
  }

  watches(): number {
    return this.watcher?.watches() ?? 0;
  }

  /** A new configuration (SIGHUP): the watch follows the new rules. */
  async reload(ctx: Context): Promise<void> {
    this.ctx.logbook.close();
    this.ctx = { ...ctx, ahead: this.ctx.ahead };
    this.ctx.logbook.keepOpen();
    await this.stopJobs();
    await this.watcher?.close();
    if (this.closed) return;
    await this.watch();
    this.scheduleJobs();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.prepareTimer) clearTimeout(this.prepareTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.timer = this.prepareTimer = this.settleTimer = undefined;
    await this.stopJobs();
    await this.watcher?.close();
    this.watcher = undefined;
    await this.running;
    // The next one to look (a command, the next daemon) finds the index as the last snapshot left it.
    if (this.ctx.ahead!.pending) await this.settle();
    this.ctx.logbook.close();
  }
}
