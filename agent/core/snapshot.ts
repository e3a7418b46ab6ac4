// Taking a snapshot: rules → scan → capture packages/env/cvmfs → manifest shards → git index →
// tree → commit → ref. Only the last step publishes anything; a crash before it leaves unreferenced
// objects and nothing listed (docs/FORMAT.md, "Write ordering").
import { createHash } from "node:crypto";
import { VmlError } from "./errors.js";
import { BASE_REF, Logbook } from "./logbook.js";
import type { Context } from "./context.js";
import { scan, type ScanResult, type ScannedDir } from "../capture/scan.js";
import { readOwners } from "../capture/owners.js";
import { capturePackages } from "../capture/packages.js";
import { captureEnv } from "../capture/env.js";
import { captureCvmfs } from "../capture/cvmfs.js";
import { joinPath, parseShard, renderShard, shardPath, shardsOf, SHARD_SPLIT, STORED_TYPES } from "../model/manifest.js";
import { renderPackages } from "../model/packages.js";
import { renderEnv } from "../model/env.js";
import { renderCvmfs } from "../model/cvmfs.js";
import { renderTrailers, type Trigger } from "../model/message.js";
import { diffSnapshots, type Changes } from "./diff.js";

export const FORMAT_FILE = ".vml/format";
export const PACKAGES_FILE = ".vml/packages";
export const ENV_FILE = ".vml/env";
export const CVMFS_FILE = ".vml/cvmfs";
const FORMAT_TEXT = "vml-snapshot 1\n";
const ZERO_ID = "0".repeat(40);
/** Timestamps this recent may still change within the same clock tick: never trusted as unchanged. */
const RACY_MS = 2000;

export interface Staged {
  tree: string;
  scan: ScanResult;
}

function blobId(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

/** The `.vml/` entries the index holds now: path → blob id. */
async function indexedMeta(lb: Logbook): Promise<Map<string, string>> {
  const out = await lb.git(["ls-files", "-s", "-z", "--", ".vml"]);
  const m = new Map<string, string>();
  for (const rec of out.toString("latin1").split("\0")) {
    const tab = rec.indexOf("\t");
    if (tab > 0) m.set(rec.slice(tab + 1), rec.split(" ")[1]);
  }
  return m;
}

export interface StageOptions {
  /** Keep the recorded environment instead of the caller's (a scheduled run has no user shell). */
  keepEnv?: boolean;
}

/** Brings the logbook's index to the live state and writes its tree; no commit, no ref. */
export async function stage(ctx: Context, opts: StageOptions = {}): Promise<Staged> {
  const { sys, root, config, logbook: lb } = ctx;
  ctx.progress?.phase("scanning");
  const racyAfter = BigInt(sys.now().getTime() - RACY_MS) * 1_000_000n;
  // git reads the index while the scan walks the tree: two cores, two jobs.
  const indexedP = indexedMeta(lb);
  const scanned = scan(sys, root, ctx.rules, config.sizeLimit, readOwners(sys, root), (n, b) => ctx.progress?.update(n, b), racyAfter);
  ctx.log.debug({ dirs: scanned.dirs.size, files: scanned.files }, "scanned");

  const indexed = await indexedP;
  const cache = lb.readScanCache();
  const unchangedDir = (key: string, d: ScannedDir) => d.fingerprint !== undefined && cache.get(key) === d.fingerprint;

  // Metadata records by path in the tree; a directory whose fingerprint held keeps its indexed shard
  // without being rendered again.
  const meta = new Map<string, Buffer | undefined>();
  meta.set(FORMAT_FILE, Buffer.from(FORMAT_TEXT));
  for (const [key, d] of scanned.dirs) {
    const single = shardPath(d.dir);
    if (unchangedDir(key, d) && d.entries.length <= SHARD_SPLIT && indexed.has(single)) meta.set(single, undefined);
    else for (const s of shardsOf(d.dir, d.entries)) meta.set(shardPath(s.dir, s.bucket), Buffer.from(renderShard(s)));
  }
  const packages = await capturePackages(sys, root, config.packages);
  if (packages) meta.set(PACKAGES_FILE, Buffer.from(renderPackages(packages)));
  if (!opts.keepEnv) meta.set(ENV_FILE, Buffer.from(renderEnv(captureEnv(sys, config.envDrop))));
  meta.set(CVMFS_FILE, Buffer.from(renderCvmfs(await captureCvmfs(sys, root, config.mountsTable))));
  ctx.log.debug({ records: meta.size }, "metadata rendered");

  const changed: [string, Buffer, string][] = [];
  for (const [path, content] of meta) {
    if (!content) continue;
    const id = blobId(content);
    if (indexed.get(path) !== id) changed.push([path, content, id]);
  }
  const gone = [...indexed.keys()].filter((p) => !meta.has(p) && !(opts.keepEnv && p === ENV_FILE));

  // Stored paths that vanished can only be in shards that changed or went: read those old shards.
  const oldShards = [...changed.map(([p]) => p), ...gone].filter((p) => p.startsWith(".vml/manifest/") && indexed.has(p));
  const removed: Buffer[] = [];
  const blobs = await lb.readBlobs(oldShards.map((p) => indexed.get(p)!));
  for (const blob of blobs) {
    if (!blob) continue;
    const old = parseShard(blob.toString());
    const now = scanned.dirs.get(old.dir.toString("latin1"));
    const stillStored = new Set(now?.entries.filter((e) => STORED_TYPES.has(e.type)).map((e) => e.name.toString("latin1")));
    for (const e of old.entries) {
      if (STORED_TYPES.has(e.type) && !stillStored.has(e.name.toString("latin1"))) removed.push(joinPath(old.dir, e.name));
    }
  }

  const NUL = Buffer.from([0]);
  const nulList = (paths: Buffer[]) => Buffer.concat(paths.flatMap((p) => [p, NUL]));
  // Paths no longer recorded may still exist (now excluded, or over the size limit): force them out.
  if (removed.length) await lb.git(["update-index", "-z", "--force-remove", "--stdin"], { input: nulList(removed) });

  // Only directories whose stat fingerprint moved since the last scan need git to look at their files.
  const nextCache = new Map<string, string>();
  const toIndex: Buffer[] = [];
  for (const [key, d] of scanned.dirs) {
    if (d.fingerprint) nextCache.set(key, d.fingerprint);
    if (unchangedDir(key, d)) continue;
    for (const e of d.entries) if (STORED_TYPES.has(e.type)) toIndex.push(joinPath(d.dir, e.name));
  }
  const total = toIndex.length;
  ctx.log.debug({ paths: total, removed: removed.length, metadata: changed.length }, "indexing");
  ctx.progress?.phase("storing", total);
  let seen = 0;
  // Metadata blobs are written while git indexes the files; the index entries for them follow.
  const blobsWritten = changed.length ? writeBlobs(ctx, changed) : Promise.resolve();
  // With nothing cached (the base snapshot, a recovery) most content is new: git then writes it into
  // one pack (bulk check-in) instead of a file per object, faster now and for every later read.
  const bulk = cache.size === 0 ? ["-c", "core.bigFileThreshold=1"] : [];
  // --remove: a path that vanished since the scan leaves the index instead of failing the snapshot.
  await lb.git([...bulk, "update-index", "--add", "--remove", "--replace", "-z", ...(ctx.progress ? ["--verbose"] : []), "--stdin"], {
    input: nulList(toIndex),
    onStdout: ctx.progress
      ? (chunk) => {
          for (const c of chunk) if (c === 0x0a) seen++;
          ctx.progress!.update(Math.min(seen, total));
        }
      : undefined,
  });

  await blobsWritten;
  const info = [
    ...changed.map(([p, , id]) => `100644 ${id}\t${p}`),
    ...gone.map((p) => `0 ${ZERO_ID}\t${p}`),
  ];
  if (info.length) await lb.git(["update-index", "--index-info"], { input: info.join("\n") + "\n" });
  ctx.log.debug("index updated");
  const tree = await lb.gitText(["write-tree"]);
  lb.writeScanCache(nextCache);
  ctx.log.debug({ tree }, "tree written");
  ctx.progress?.done();
  return { tree, scan: scanned };
}

/** Writes metadata blobs with native git in one process (flushed with the rest before publishing). */
async function writeBlobs(ctx: Context, blobs: [string, Buffer, string][]): Promise<void> {
  const { sys, logbook: lb } = ctx;
  const tmp = `${lb.gitDir}/vml-tmp`;
  sys.remove(tmp);
  sys.mkdir(tmp, 0o700);
  try {
    const files = blobs.map(([, content], i) => {
      const f = `${tmp}/${i}`;
      sys.writeFile(f, content, 0o600);
      return f;
    });
    const ids = (await lb.gitText(["hash-object", "-w", "--no-filters", "--stdin-paths"], { input: files.join("\n") + "\n" })).split("\n");
    blobs.forEach(([path, , id], i) => {
      if (ids[i] !== id) throw new VmlError("GIT_FAILED", `object for ${path} was written as ${ids[i]}, expected ${id}`);
    });
  } finally {
    sys.remove(tmp);
  }
}

export interface CommitOptions extends StageOptions {
  message: string;
  trigger: Trigger;
}

export interface CommitResult {
  id: string;
  unchanged: boolean;
  parent?: string;
  tree: string;
  scan: ScanResult;
}

/** Runs `fn` under the logbook's lock; after a crashed holder, the index is rebuilt from HEAD first. */
export async function withLock<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  const lock = await ctx.logbook.lock(ctx.config.lockWait * 1000);
  try {
    if (lock.recovered) {
      ctx.log.warn("recovered from an interrupted snapshot; rebuilding the logbook's index from the latest snapshot");
      ctx.logbook.dropScanCache();
      if (await ctx.logbook.revParse("HEAD")) await ctx.logbook.git(["read-tree", "HEAD"]);
    }
    return await fn();
  } finally {
    lock.release();
  }
}

interface Head {
  id: string;
  tree: string;
  base: string;
}

/** The line's latest snapshot, its tree and base name, in one git call; undefined before the first. */
async function readHead(lb: Logbook): Promise<Head | undefined> {
  const out = await lb.git(["log", "-1", "--format=%H%x00%T%x00%(trailers:key=Vml-Base,valueonly,separator=)", "HEAD", "--"], { allowFail: true });
  const [id, tree, base] = out.toString().trim().split("\0");
  return id ? { id, tree, base } : undefined;
}

export async function commit(ctx: Context, opts: CommitOptions): Promise<CommitResult> {
  ctx.logbook.requireExists();
  return withLock(ctx, () => commitLocked(ctx, opts));
}

/**
 * A snapshot whose message is made from what changed (the daemon's automatic snapshots). The
 * environment recorded last is kept: a daemon has no user shell of its own.
 */
export async function commitDescribed(ctx: Context, trigger: Trigger, describe: (c: Changes) => string): Promise<CommitResult & { message?: string }> {
  const lb = ctx.logbook;
  lb.requireExists();
  return withLock(ctx, async () => {
    const headP = readHead(lb);
    const staged = await stage(ctx, { keepEnv: true });
    const head = await headP;
    if (head && head.tree === staged.tree) return { id: head.id, unchanged: true, parent: head.id, tree: staged.tree, scan: staged.scan };
    const message = describe(await diffSnapshots(lb, head?.tree, staged.tree));
    const id = await writeCommit(ctx, staged.tree, head, { message, trigger });
    return { id, unchanged: false, parent: head?.id, tree: staged.tree, scan: staged.scan, message };
  });
}

/** A snapshot, for callers that already hold the logbook's lock. */
export async function commitLocked(ctx: Context, opts: CommitOptions): Promise<CommitResult> {
  const lb = ctx.logbook;
  const headP = readHead(lb);
  const staged = await stage(ctx, opts);
  const head = await headP;
  if (head && head.tree === staged.tree) {
    return { id: head.id, unchanged: true, parent: head.id, tree: staged.tree, scan: staged.scan };
  }
  const id = await writeCommit(ctx, staged.tree, head, opts);
  ctx.log.debug({ id }, "snapshot published");
  return { id, unchanged: false, parent: head?.id, tree: staged.tree, scan: staged.scan };
}

async function writeCommit(ctx: Context, tree: string, head: Head | undefined, opts: CommitOptions): Promise<string> {
  const { sys, logbook: lb, config } = ctx;
  const env = sys.callerEnv();
  const user = env.SUDO_USER || env.USER || env.LOGNAME || "root";
  const host = sys.hostname();
  const date = `${Math.floor(sys.now().getTime() / 1000)} +0000`;
  const message = `${opts.message.replace(/\s+$/, "")}\n\n${renderTrailers({
    trigger: opts.trigger,
    base: head?.base || config.base,
    host,
    agent: `vml-agent ${ctx.agentVersion}`,
  })}`;
  const id = await lb.gitText(["commit-tree", tree, ...(head ? ["-p", head.id] : []), "-F", "-"], {
    input: message,
    env: {
      GIT_AUTHOR_NAME: user,
      GIT_AUTHOR_EMAIL: `${user}@${host}`,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: "vml-agent",
      GIT_COMMITTER_EMAIL: `vml-agent@${host}`,
      GIT_COMMITTER_DATE: date,
    },
  });
  // Every object of the snapshot reaches the disk before the ref that makes it exist.
  await sys.syncFs(`${lb.gitDir}/objects`);
  // Compare-and-swap: a concurrent writer that moved the line makes this fail instead of losing work.
  await lb.git(["update-ref", "-m", `vml ${opts.trigger}`, "HEAD", id, head?.id ?? ZERO_ID]);
  return id;
}

export async function init(ctx: Context, line: string): Promise<CommitResult> {
  const lb = ctx.logbook;
  // A logbook without its base snapshot is an init that was interrupted: finish it.
  if (lb.exists() && (await lb.revParse(BASE_REF))) throw new VmlError("LOGBOOK_EXISTS", `a logbook already exists at ${lb.gitDir}`);
  await lb.create(line);
  const res = await commit(ctx, { message: `base snapshot "${ctx.config.base}"`, trigger: "base" });
  await lb.git(["update-ref", BASE_REF, res.id]);
  return res;
}
