// Taking a snapshot: rules → scan → capture packages/env/cvmfs → manifest shards → git index →
// tree → commit → ref. Only the last step publishes anything; a crash before it leaves unreferenced
// objects and nothing listed (docs/FORMAT.md, "Write ordering").
import { createHash } from "node:crypto";
import { VmlError } from "./errors.js";
import { BASE_REF, Logbook, ZERO_ID } from "./logbook.js";
import type { Context } from "./context.js";
import { Scanner, type Patch, type ScanResult } from "../capture/scan.js";
import type { ScanCache } from "../capture/scan-cache.js";
import type { System } from "../platform/system.js";
import { readOwners, type Owners } from "../capture/owners.js";
import { capturePackages, detectPackageFormat, packageDbStamp } from "../capture/packages.js";
import { captureEnv } from "../capture/env.js";
import { captureCvmfs } from "../capture/cvmfs.js";
import { joinPath, keptShards, parentKey, parseShard, renderShard, shardPath, shardsOf, STORED_TYPES, type Shard } from "../model/manifest.js";
import { renderPackages } from "../model/packages.js";
import { diffEnv, parseEnv, renderEnv } from "../model/env.js";
import { renderCvmfs } from "../model/cvmfs.js";
import { parseMessage, renderTrailers, type Trigger } from "../model/message.js";
import { commitTreeAndMessage, objectId } from "../model/git-object.js";
import { changesOf, diffSnapshots, type Changes } from "./diff.js";
import { modeOf, quickBase, quickTree, settleIndex } from "./quick-trees.js";
import { clearInterruptedRestore } from "./restore-journal.js";

export const FORMAT_FILE = ".vml/format";
export const PACKAGES_FILE = ".vml/packages";
export const ENV_FILE = ".vml/env";
export const CVMFS_FILE = ".vml/cvmfs";
const FORMAT_TEXT = "vml-snapshot 1\n";
/** Timestamps this recent may still change within the same clock tick: never trusted as unchanged. */
const RACY_MS = 2000;
/** Bytes of metadata index entries passed as arguments rather than through a process of their own. */
const INLINE_ARGS = 64 * 1024;
/** Files per pack when most content is new (see stageOnce). */
const BULK_FILES = 10000;
/** Files of a big batch hashed here to tell new content from content the logbook holds (see mostlyNew). */
const SAMPLE_FILES = 32;
const SAMPLE_MAX_BYTES = 1 << 20;

export interface Staged {
  tree: string;
  scan: ScanResult;
  /** Every object of the tree is already flushed to disk. */
  synced: boolean;
  /** Every object of the tree not flushed yet was written by the agent itself (the quick way): flushing those is enough. */
  ownObjects?: boolean;
}

/** The `.vml/` entries the index holds now: path → blob id (from the scan cache while it is valid). */
async function indexedMeta(lb: Logbook, cache: ScanCache, fresh: boolean): Promise<Map<string, string>> {
  if (fresh) return cache.meta;
  const out = await lb.git(["ls-files", "-s", "-z", "--", ".vml"]);
  const m = new Map<string, string>();
  for (const rec of out.toString("latin1").split("\0")) {
    const tab = rec.indexOf("\t");
    if (tab > 0) m.set(rec.slice(tab + 1), rec.split(" ")[1]);
  }
  return m;
}

/**
 * The indexed paths inside these folders (keys, none inside another), NUL-separated, each run last
 * name first: git takes a path out by moving every entry behind it, so those behind go first. The
 * index is sorted by bytes: a folder's paths are one run of the listing, found by its first and
 * last names.
 */
async function indexedUnder(lb: Logbook, folders: string[]): Promise<Buffer[]> {
  const listed = await lb.git(["ls-files", "-z"]);
  // A NUL in front: every name then starts after one (offsets in `text` are one past `listed`'s).
  const text = `\0${listed.toString("latin1")}`;
  const runs: Buffer[] = [];
  for (const folder of folders) {
    const start = `\0${folder}/`;
    const first = text.indexOf(start);
    if (first < 0) continue;
    runs.push(reversedNames(listed.subarray(first, text.indexOf("\0", text.lastIndexOf(start) + 1))));
  }
  return runs;
}

/** NUL-terminated names in the opposite order. */
function reversedNames(names: Buffer): Buffer {
  const out = Buffer.allocUnsafe(names.length);
  let at = 0;
  for (let end = names.length - 1; end > 0; ) {
    const start = names.lastIndexOf(0, end - 1) + 1;
    at += names.copy(out, at, start, end + 1);
    end = start - 1;
  }
  return out;
}

export interface StageOptions {
  /** Keep the recorded environment instead of the caller's (a scheduled run has no user shell). */
  keepEnv?: boolean;
  /**
   * Paths (relative to the root) a watch saw change since the last snapshot: only their folders are
   * checked, the scan cache vouches for the rest. Absent: everything is checked.
   */
  hints?: string[];
  /** Flush what was written before the scan cache says so (the daemon, ahead of a snapshot). */
  flush?: boolean;
  /** The daemon's snapshot: with few folders to look at, its trees are written the quick way (quick-trees.ts). */
  quick?: boolean;
}

/** Beyond this many folders to check, checking everything costs no more. */
const MAX_FOCUS = 2000;
/** Up to this many folders to check are read whole rather than asking git which files changed. */
const READ_DIRECTLY = 64;

/** The folders to check for these hints (keys as in the scan cache), or undefined for all of them. */
function focusOf(hints: string[] | undefined, cache: ScanCache): Set<string> | undefined {
  if (!hints || !cache.dirs.size) return undefined;
  const focus = new Set<string>();
  for (const h of hints) {
    // A name that was not UTF-8 reaches us mangled: no way to name its folder, so check all.
    if (h.includes("\uFFFD")) return undefined;
    const key = Buffer.from(h, "utf8").toString("latin1");
    if (cache.dirs.has(key)) focus.add(key);
    const slash = key.lastIndexOf("/");
    focus.add(slash < 0 ? "" : key.slice(0, slash));
    if (focus.size > MAX_FOCUS) return undefined;
  }
  return focus;
}

/**
 * A folder git names a changed file in, whose names are as last recorded, is read from its record
 * in the index with only the changed names looked at: git vouches for the others (their stat is the
 * one it indexed). A record the logbook cannot give means the folder is read whole.
 */
async function recordsPatch(lb: Logbook, cache: ScanCache, indexed: ReadonlyMap<string, string>, folders: Set<string>, changed: Buffer[]): Promise<Patch | undefined> {
  const shardIds = new Map<string, string[]>();
  for (const key of folders) {
    const ids = keptShards(Buffer.from(key, "latin1"), cache.dirs.get(key)!.split, indexed).map((p) => indexed.get(p)!);
    if (ids.length) shardIds.set(key, ids);
  }
  if (!shardIds.size) return undefined;
  const ids = [...new Set([...shardIds.values()].flat())];
  const blobs = await lb.readBlobs(ids);
  const byId = new Map(ids.map((id, i) => [id, blobs[i]]));
  return {
    recorded: (key) => {
      const blobsHere = shardIds.get(key)?.map((id) => byId.get(id));
      if (!blobsHere || blobsHere.some((b) => !b)) return undefined;
      return blobsHere.flatMap((b) => parseShard(b!.toString()).entries);
    },
    hinted: new Set(changed.map((p) => p.toString("latin1"))),
  };
}

/** The scan cache is only valid for the same rules, size limit and owner names. */
function scanKey(ctx: Context, owners: Owners): string {
  const rules = ctx.rules.rules.map((r) => `${r.action} ${r.pattern}`).join("\n");
  return createHash("sha1").update(`${rules}\0${ctx.config.sizeLimit}\0${owners.digest}`).digest("hex");
}

/**
 * Cached folders that hold folders and are no longer folders, outermost only: their files leave
 * the index by name (below), so git need not look for each of them (three failing lstats apiece).
 */
function vanishedBranches(sys: System, root: string, cache: ScanCache): string[] {
  const inner = new Set<string>();
  for (const k of cache.dirs.keys()) if (k !== "") inner.add(parentKey(k));
  inner.delete("");
  const rootBuf = Buffer.from(root === "/" ? "" : root);
  const out = new Set<string>();
  const insideOne = (k: string) => {
    for (let slash = k.indexOf("/"); slash > 0; slash = k.indexOf("/", slash + 1)) if (out.has(k.slice(0, slash))) return true;
    return false;
  };
  // Sorted, a folder comes before what it holds.
  for (const k of [...inner].sort()) {
    if (insideOne(k)) continue;
    if (sys.lstat(Buffer.concat([rootBuf, Buffer.from("/" + k, "latin1")]))?.kind !== "dir") out.add(k);
  }
  return [...out];
}

/** A latin1 key as git reads it on its command line (UTF-8), or undefined when the name is not UTF-8. */
function argOf(key: string): string | undefined {
  const text = Buffer.from(key, "latin1").toString("utf8");
  return Buffer.from(text, "utf8").toString("latin1") === key ? text : undefined;
}

/** An index entry given to git whole: no stat, so git's next look reads the file. */
interface IndexEntry {
  mode: string;
  id: string;
  path: Buffer;
}

/**
 * Recent files hashed here (each read whole, stored loose even when git holds it packed) in one
 * snapshot: an edit's worth. Beyond it git takes them, and the residual race is theirs (a tree
 * written in bulk as the snapshot runs: a restore, an unpacked archive).
 */
const RECENT_HASH_FILES = 1000;
const RECENT_HASH_BYTES = 16 << 20;

/**
 * git compares change times to the second: a file changed again within the second git looked at it,
 * its size and mtime kept, would pass git's stat check from then on and its new content never be
 * recorded. Files changed that recently are hashed and stored here and given to git without a stat
 * (as its own racy entries are), so git's next look reads them again. By latin1 path; a file that
 * changed or went while it was read is left to git.
 */
function hashRecent(ctx: Context, recent: ScanResult["recent"]): Map<string, IndexEntry> {
  const { sys, root, logbook: lb } = ctx;
  const out = new Map<string, IndexEntry>();
  const top = Buffer.from(root === "/" ? "/" : `${root}/`);
  let budget = RECENT_HASH_BYTES;
  for (const { path, entry } of recent.slice(0, RECENT_HASH_FILES)) {
    if (entry.size > budget) continue;
    budget -= entry.size;
    const abs = Buffer.concat([top, path]);
    let content: Buffer;
    try {
      content = sys.readFile(abs);
    } catch {
      continue;
    }
    const st = sys.lstat(abs);
    if (st?.kind !== "file" || st.size !== content.length || st.size !== entry.size || st.mtimeNs !== entry.mtimeNs) continue;
    const [id] = lb.writeObjects("blob", [content]);
    out.set(path.toString("latin1"), { mode: modeOf(entry), id, path });
  }
  return out;
}

/**
 * Whether most of these files hold content new to the logbook, judged from an evenly spread sample
 * hashed here. Thousands of files to look at may be new content (a job's output, an unpacked tree)
 * or content the logbook has (a restored work area, a moved tree, a `chown -R`): git's bulk check-in
 * compresses every file before it can tell, 1.7 s for 20,000 files it then throws away.
 */
async function mostlyNew(ctx: Context, files: { path: Buffer; size: number }[]): Promise<boolean> {
  const top = Buffer.from(ctx.root === "/" ? "/" : `${ctx.root}/`);
  const ids: string[] = [];
  const step = Math.max(1, files.length / SAMPLE_FILES);
  for (let at = 0; at < files.length; at += step) {
    const f = files[Math.floor(at)];
    if (f.size > SAMPLE_MAX_BYTES) continue;
    try {
      ids.push(objectId("blob", ctx.sys.readFile(Buffer.concat([top, f.path]))));
    } catch {
      // Gone or unreadable since the scan: git says so when it gets there.
    }
  }
  if (!ids.length) return true;
  return (await ctx.logbook.missingObjects(ids)).size * 2 > ids.length;
}

function splitNul(out: Buffer): Buffer[] {
  const paths: Buffer[] = [];
  let start = 0;
  for (let i = out.indexOf(0); i >= 0; start = i + 1, i = out.indexOf(0, start)) paths.push(out.subarray(start, i));
  return paths;
}

/** Looks this many times when files keep going away while a snapshot looks at them. */
const STAGE_TRIES = 3;

/**
 * Brings the logbook's index to the live state and writes its tree; no commit, no ref. A stored file
 * that went away between the look and git's makes the look start again (its folder then read anew),
 * so that a folder's record never lists content the tree does not hold.
 */
export async function stage(ctx: Context, opts: StageOptions = {}): Promise<Staged> {
  for (let tries = 1; ; tries++) {
    const staged = await stageOnce(ctx, opts);
    if (!staged.vanished) return staged;
    if (tries === STAGE_TRIES) throw new VmlError("CAPTURE_FAILED", `files kept going away while the snapshot looked at them (${tries} tries); nothing was recorded`);
    ctx.log.debug({ tries }, "files went away during the look: looking again");
  }
}

/**
 * The scan cache a quick look that follows another goes on from: the last one's, while the index
 * has not caught up with it yet (and nothing else wrote the index). Undefined for any other look,
 * which has the index catch up first.
 */
function chainedCache(ctx: Context, opts: StageOptions): ScanCache | undefined {
  const p = ctx.ahead?.pending;
  if (!p || !opts.quick || !opts.hints?.length || ctx.progress || ctx.logbook.indexStamp() !== p.indexStamp) return undefined;
  const focus = focusOf(opts.hints, p.next);
  return focus && focus.size <= READ_DIRECTLY ? { ...p.next, index: p.indexStamp } : undefined;
}

async function stageOnce(ctx: Context, opts: StageOptions): Promise<Staged & { vanished: boolean }> {
  const { sys, root, config, logbook: lb } = ctx;
  const chained = chainedCache(ctx, opts);
  if (chained) ctx.log.debug({ tree: chained.tree }, "going on from the last quick look");
  else await settleIndex(ctx);
  ctx.progress?.phase("scanning");
  const racyAfter = BigInt(sys.now().getTime() - RACY_MS) * 1_000_000n;
  const owners = readOwners(sys, root);
  let cache = chained ?? lb.readScanCache(scanKey(ctx, owners));
  if (lb.ensureRawContent()) {
    // Content indexed before git was told to keep it raw may have been rewritten: every file is read again.
    ctx.log.warn("the logbook now stores content exactly as on disk (whatever .gitattributes say): every file is read once");
    await lb.resetIndex();
    cache = { key: cache.key, dirs: new Map(), meta: new Map() };
  } else if (cache.index !== undefined && cache.index !== lb.indexStamp()) {
    // Written since the last snapshot by something else (a git command run on the logbook by hand,
    // a snapshot that failed half-way): it may hold paths no shard lists, which no later snapshot
    // would take out. It is brought back to the latest snapshot, and every folder is read.
    ctx.log.warn("the logbook's index was changed outside vml-agent: rebuilt from the latest snapshot; every folder is read once");
    await lb.resetIndex();
    cache = { key: cache.key, dirs: new Map(), meta: new Map() };
  }
  // Nothing has written the index since the cache was: what the cache says of it holds.
  const fresh = cache.index !== undefined && cache.index === lb.indexStamp();
  // git reads the index and stats the files it holds while the scan looks at the folders: two
  // cores, two jobs.
  const indexedP = indexedMeta(lb, cache, fresh);
  const focus = focusOf(opts.hints, cache);
  // A few folders to look at are read here; more, and git finds which of their files changed.
  const direct = focus !== undefined && focus.size <= READ_DIRECTLY;
  const only = focus && !focus.has("") ? [...focus].map((k) => Buffer.from(k, "latin1").toString("utf8")) : undefined;
  // Left out of git's look: only folders git can be told of (named in UTF-8).
  const away = cache.dirs.size && !focus ? vanishedBranches(sys, root, cache).flatMap((key) => {
    const arg = argOf(key);
    return arg === undefined ? [] : [{ key, arg }];
  }) : [];
  const dirtyP = cache.dirs.size && !direct
    ? lb.git(only ? ["--literal-pathspecs", "diff-files", "--name-only", "-z", "--", ...only] : ["diff-files", "--name-only", "-z", "--", ":(exclude).vml", ...away.map((a) => `:(exclude,literal)${a.arg}`)])
    : undefined;
  ctx.log.debug({ hints: opts.hints?.length, folders: focus ? focus.size : "all" }, "looking");
  // The daemon's few folders: compared with the last snapshot held in memory, trees written here.
  const hinted = new Set(opts.hints?.map((h) => Buffer.from(h, "utf8").toString("latin1")));
  const quick = opts.quick && ctx.ahead && direct && fresh && hinted.size && !ctx.progress ? await quickBase(ctx, cache, cache.meta) : undefined;
  const scanner = new Scanner(sys, root, ctx.rules, config.sizeLimit, owners, cache, racyAfter, (n, b) => ctx.progress?.update(n, b), quick && { recorded: quick.recorded, hinted });
  scanner.walk(focus);
  const indexed = await indexedP;
  if (direct) scanner.recheck(opts.hints!.map((h) => Buffer.from(h, "utf8")));
  else if (dirtyP) {
    const dirty = splitNul(await dirtyP);
    // A folder back by the time the walk came (moved away and back): git looks at its files after all.
    const back = away.filter((a) => scanner.result.dirs.has(a.key)).map((a) => a.arg);
    if (back.length) dirty.push(...splitNul(await lb.git(["--literal-pathspecs", "diff-files", "--name-only", "-z", "--", ...back])));
    scanner.recheck(dirty, fresh ? await recordsPatch(lb, cache, indexed, scanner.patchable(dirty), dirty) : undefined);
  }
  // Asked of every recorded folder the cache vouched for; a folder without its shards is read.
  const kept = new Map<string, string[]>();
  const scanned = scanner.finish((d) => {
    const paths = keptShards(d.dir, d.split, indexed);
    kept.set(d.dir.toString("latin1"), paths);
    return paths.length > 0;
  });
  ctx.log.debug({ dirs: scanned.dirs.size, files: scanned.files }, "scanned");

  // Metadata records by path in the tree; a folder the cache vouched for keeps its indexed shards.
  const meta = new Map<string, Buffer | undefined>();
  /** The shards rendered anew, by path. */
  const rendered = new Map<string, Shard>();
  meta.set(FORMAT_FILE, Buffer.from(FORMAT_TEXT));
  for (const [key, d] of scanned.dirs) {
    if (!d.recorded) continue;
    if (!d.entries) for (const p of kept.get(key)!) meta.set(p, undefined);
    else {
      for (const s of shardsOf(d.dir, d.entries)) {
        const p = shardPath(s.dir, s.bucket);
        meta.set(p, Buffer.from(renderShard(s)));
        rendered.set(p, s);
      }
    }
  }
  const packageFormat = detectPackageFormat(sys, root, config.packages);
  const packageStamp = packageFormat && packageDbStamp(sys, root, packageFormat, racyAfter);
  if (packageStamp !== undefined && packageStamp === cache.packages && fresh && indexed.has(PACKAGES_FILE)) meta.set(PACKAGES_FILE, undefined);
  else if (packageFormat) meta.set(PACKAGES_FILE, Buffer.from(renderPackages((await capturePackages(sys, root, packageFormat))!)));
  if (!opts.keepEnv) meta.set(ENV_FILE, Buffer.from(renderEnv(captureEnv(sys, config.envDrop, config.globs))));
  meta.set(CVMFS_FILE, Buffer.from(renderCvmfs(await captureCvmfs(sys, root, config.mountsTable))));
  ctx.log.debug({ records: meta.size }, "metadata rendered");

  const changed: [string, Buffer, string][] = [];
  // What the index holds for `.vml/` once this stage is done (kept in the scan cache).
  const metaIds = new Map<string, string>();
  for (const [path, content] of meta) {
    const id = content ? objectId("blob", content) : indexed.get(path)!;
    metaIds.set(path, id);
    if (content && indexed.get(path) !== id) changed.push([path, content, id]);
  }
  if (opts.keepEnv && indexed.has(ENV_FILE)) metaIds.set(ENV_FILE, indexed.get(ENV_FILE)!);
  const gone = [...indexed.keys()].filter((p) => !meta.has(p) && !(opts.keepEnv && p === ENV_FILE));

  // Folders recorded last time and not found now (removed, or no longer included) leave the index
  // whole, by name: what their shards listed need not be read.
  const vanished = [...cache.dirs].filter(([k, d]) => d.recorded && !scanned.dirs.has(k)).map(([k]) => k);
  const vanishedSet = new Set(vanished);
  const vanishedShards = new Set(vanished.flatMap((k) => keptShards(Buffer.from(k, "latin1"), cache.dirs.get(k)!.split, indexed)));
  const topVanished = vanished.filter((k) => k !== "" && !vanishedSet.has(parentKey(k)));
  // Other stored paths that vanished can only be in shards that went, or of folders whose names
  // changed or that hold entries no longer stored (a file grown over the limit): read those old shards.
  const lostNames = (p: string) => {
    const d = scanned.dirs.get(rendered.get(p)?.dir.toString("latin1") ?? "");
    return !d?.entries || d.changed || d.entries.some((e) => e.type !== "d" && !STORED_TYPES.has(e.type));
  };
  const oldShards = [...changed.map(([p]) => p).filter(lostNames), ...gone].filter((p) => p.startsWith(".vml/manifest/") && indexed.has(p) && !vanishedShards.has(p));
  const removed: Buffer[] = [];
  const blobs = await lb.readBlobs(oldShards.map((p) => indexed.get(p)!));
  for (const blob of blobs) {
    if (!blob) continue;
    const old = parseShard(blob.toString());
    const now = scanned.dirs.get(old.dir.toString("latin1"));
    if (now && !now.entries) continue;
    const stillStored = new Set(now?.entries?.filter((e) => STORED_TYPES.has(e.type)).map((e) => e.name.toString("latin1")));
    for (const e of old.entries) {
      if (STORED_TYPES.has(e.type) && !stillStored.has(e.name.toString("latin1"))) removed.push(joinPath(old.dir, e.name));
    }
  }

  lb.writeObjects("blob", changed.map(([, content]) => content));
  /** The scan cache once the index holds `tree`. */
  const nextCache = (tree: string, synced: boolean): ScanCache => {
    const next: ScanCache = { key: cache.key, dirs: new Map(), index: lb.indexStamp(), meta: metaIds, tree, synced, packages: packageStamp };
    for (const [key, d] of scanned.dirs) next.dirs.set(key, { stamp: d.stamp, recorded: d.recorded, reread: d.reread, named: d.named, split: d.split, keep: d.keep });
    return next;
  };
  if (quick) {
    const indexStamp = lb.indexStamp();
    const tree = await quickTree(ctx, quick, { scanned, indexed, meta, rendered, gone, removed, vanished, hinted });
    if (tree !== undefined) {
      // The same tree: the index holds it already (unless it has yet to catch up with it).
      const same = tree === cache.tree;
      if (same && !chained) lb.writeScanCache(nextCache(tree, cache.synced === true));
      else ctx.ahead!.pending = { tree, indexStamp, next: nextCache(tree, false) };
      ctx.log.debug({ tree }, "tree written the quick way");
      // No second look (scanner.confirm): a file hashed here was checked after its read, and the
      // others keep the content and the record of the last snapshot, which agree.
      return { tree, scan: scanned, synced: same && cache.synced === true, ownObjects: !same, vanished: false };
    }
  }
  if (chained) {
    // Git's way after all: it works on the index, which first catches up.
    await settleIndex(ctx);
    return stageOnce(ctx, { ...opts, quick: false });
  }

  const NUL = Buffer.from([0]);
  const nulList = (paths: Buffer[]) => Buffer.concat(paths.flatMap((p) => [p, NUL]));
  // Paths no longer recorded may still exist (now excluded, or over the size limit): force them out,
  // with the records of folders that went.
  const out = [...removed, ...gone.map((p) => Buffer.from(p, "latin1"))];
  // `git rm -r --cached` took three times as long to take folders out by name.
  const under = topVanished.length ? await indexedUnder(lb, topVanished) : [];
  const removing = out.length > 0 || under.length > 0;
  if (removing) await lb.git(["update-index", "-z", "--force-remove", "--stdin"], { input: Buffer.concat([...under, nulList(out)]) });

  // Entries given to git whole (mode, id, path): the records, and the files hashed here.
  const given: IndexEntry[] = changed.map(([p, , id]) => ({ mode: "100644", id, path: Buffer.from(p, "latin1") }));
  const hashed = hashRecent(ctx, scanned.recent);
  ctx.log.debug({ recent: scanned.recent.length, hashed: hashed.size }, "recent files hashed");
  // A recent file git is given with its stat (over what is hashed here) is not named by git next
  // time: its folder is read again.
  for (const r of scanned.recent) if (!hashed.has(r.path.toString("latin1"))) scanned.dirs.get(parentKey(r.path.toString("latin1")))!.reread = true;
  for (const [, h] of hashed) given.push(h);
  // Only the folders read need git to look at their files (the cache vouches for the others), and
  // of those, not the files taken from their records unseen (git vouched for them).
  const toIndex: Buffer[] = [];
  const sizes: number[] = [];
  for (const d of scanned.dirs.values()) {
    for (const e of d.entries ?? []) {
      if (!STORED_TYPES.has(e.type) || scanned.reused.has(e)) continue;
      const path = joinPath(d.dir, e.name);
      if (hashed.has(path.toString("latin1"))) continue;
      toIndex.push(path);
      sizes.push(e.size);
    }
  }
  const total = toIndex.length;
  // With nothing cached (the base snapshot, a recovery), or thousands of files to look at (a tree
  // unpacked, a job's output), and most of their content new, git writes it into packs (bulk
  // check-in) instead of a file per object: faster now and for every later read, and no garbage
  // collection is due after it.
  const big = cache.dirs.size === 0 || total > BULK_FILES;
  const bulk = big && (await mostlyNew(ctx, toIndex.map((path, i) => ({ path, size: sizes[i] })))) ? ["-c", "core.bigFileThreshold=1"] : [];
  ctx.log.debug({ paths: total, removed: removed.length, metadata: changed.length, packed: bulk.length > 0 }, "indexing");
  ctx.progress?.phase("storing", total);
  let seen = 0;
  // --remove: a path that vanished since the scan leaves the index instead of failing the snapshot.
  // The entries given whole ride along on the command line when they are few and can be named there
  // (UTF-8): every snapshot but the first, nearly always.
  const args = given.map((g) => argOf(g.path.toString("latin1")));
  const cacheinfo = args.every((a) => a !== undefined) ? given.map((g, i) => `${g.mode},${g.id},${args[i]}`) : [];
  const inline = cacheinfo.length === given.length && cacheinfo.reduce((n, a) => n + a.length + 1, 0) < INLINE_ARGS;
  const adding = total > 0 || given.length > 0;
  // git's bulk check-in compares each new object with every one its pack holds so far: a pack per
  // BULK_FILES files keeps that from growing with the square of the work area.
  const partSize = bulk.length ? BULK_FILES : Math.max(total, 1);
  const parts: Buffer[][] = [];
  for (let at = 0; at === 0 || at < total; at += partSize) parts.push(toIndex.slice(at, at + partSize));
  const indexParts = async (list: Buffer[][], env?: Record<string, string>) => {
    for (const part of list) {
      const inlineHere = inline && part === parts[0] ? cacheinfo.flatMap((c) => ["--cacheinfo", c]) : [];
      await lb.git([...bulk, "update-index", "--add", "--remove", "--replace", "-z", ...(ctx.progress ? ["--verbose"] : []), ...inlineHere, "--stdin"], {
        input: nulList(part),
        env,
        onStdout: ctx.progress
          ? (chunk) => {
              for (const c of chunk) if (c === 0x0a) seen++;
              ctx.progress!.update(Math.min(seen, total));
            }
          : undefined,
      });
    }
  };
  // Packing is compressing, one core per git: with two cores, every other part is packed by a
  // second git through an index of its own, and the logbook's index then takes those files in a
  // last pass that finds their content stored and only hashes them (100,000 files: 13.5 s of
  // packing on one core).
  const aside = adding && bulk.length && parts.length > 1 && sys.cores() > 1 ? parts.filter((_, i) => i % 2 === 1) : [];
  if (!aside.length) {
    if (adding) await indexParts(parts);
  } else {
    // Both run to their end before a failure of either is thrown: the scratch index goes only when its git is done.
    const lanes = await Promise.allSettled([indexParts(parts.filter((_, i) => i % 2 === 0)), lb.withScratchIndex((env) => indexParts(aside, env))]);
    for (const lane of lanes) if (lane.status === "rejected") throw lane.reason;
    await lb.git(["update-index", "--add", "--remove", "--replace", "-z", "--stdin"], { input: nulList(aside.flat()) });
  }

  if (!inline) await lb.git(["update-index", "-z", "--index-info"], { input: Buffer.concat(given.flatMap((g) => [Buffer.from(`${g.mode} ${g.id}\t`), g.path, NUL])) });
  ctx.log.debug("index updated");
  // Nothing read, nothing rendered anew (the daemon looked a moment ago): the index and its tree stand.
  const same = !adding && !removing && fresh && cache.tree !== undefined;
  const treeP = same ? Promise.resolve(cache.tree!) : lb.gitText(["write-tree"]);
  const wentAway = scanner.confirm((path) => hashed.has(path.toString("latin1")));
  const tree = await treeP;
  const wasSynced = same && cache.synced === true;
  if (opts.flush && !wasSynced) await lb.flushObjects(true);
  const synced = wasSynced || Boolean(opts.flush);
  lb.writeScanCache(nextCache(tree, synced));
  ctx.log.debug({ tree }, "tree written");
  ctx.progress?.done();
  return { tree, scan: scanned, synced, vanished: wentAway };
}

/**
 * The live state against a snapshot (or the empty tree), for a look that records nothing (status,
 * diff): its tree, what the scan found, and what changed. The caller's environment is compared in
 * memory, never staged: the next snapshot that keeps the recorded environment (the daemon's, a
 * scheduled one) would otherwise take the looker's. With `paths`, only files under them.
 */
export async function look(ctx: Context, against: string | undefined, opts: { hints?: string[]; paths?: Buffer[] } = {}): Promise<{ tree: string; scan: ScanResult; changes: Changes }> {
  const staged = await stage(ctx, { keepEnv: true, hints: opts.hints });
  const changes = await diffSnapshots(ctx.logbook, against, staged.tree, opts.paths);
  if (!opts.paths?.length) {
    const [text] = against ? await ctx.logbook.readBlobs([`${against}:${ENV_FILE}`]) : [undefined];
    changes.env = diffEnv(text ? parseEnv(text.toString()) : {}, captureEnv(ctx.sys, ctx.config.envDrop, ctx.config.globs));
  }
  return { tree: staged.tree, scan: staged.scan, changes };
}

export interface CommitOptions extends StageOptions {
  message: string;
  trigger: Trigger;
  /**
   * Told the present's tree as soon as it is written, before the snapshot is published: work that
   * only reads (a restore's plan) goes on meanwhile.
   */
  staged?: (tree: string) => void;
}

export interface CommitResult {
  id: string;
  unchanged: boolean;
  parent?: string;
  tree: string;
  scan: ScanResult;
}

/** Runs `fn` under the logbook's lock; after a crashed holder, the index is rebuilt from HEAD first. */
export async function withLock<T>(ctx: Context, fn: () => Promise<T>, waitMs = ctx.config.lockWait * 1000): Promise<T> {
  const lock = await ctx.logbook.lock(waitMs);
  try {
    if (lock.recovered) {
      ctx.log.warn("recovered from an interrupted snapshot; rebuilding the logbook's index from the latest snapshot");
      ctx.logbook.removeScratchIndexes();
      await ctx.logbook.resetIndex();
    }
    clearInterruptedRestore(ctx);
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * Takes in what changed at the paths a watch named, as the next snapshot would, without taking one:
 * that snapshot then has only its commit to write. The environment recorded last stays. Gives up at
 * once when the logbook is in use.
 */
export async function prepare(ctx: Context, hints: string[]): Promise<void> {
  const lb = ctx.logbook;
  lb.requireExists();
  await withLock(
    ctx,
    async () => {
      const headP = readHead(lb);
      const staged = await stage(ctx, { keepEnv: true, hints, flush: true });
      const head = await headP;
      if (!ctx.ahead) return;
      ctx.ahead.head = head;
      if (head?.tree !== staged.tree) ctx.ahead.changes = { from: head?.tree, to: staged.tree, changes: await diffSnapshots(lb, head?.tree, staged.tree) };
      await readyQuick(ctx);
    },
    0,
  );
}

/**
 * Brings the daemon's model and records to the tree its index holds (after a look git wrote), while
 * nobody waits: the next quick look then starts from there. Under the logbook's lock.
 */
export async function readyQuick(ctx: Context): Promise<void> {
  const lb = ctx.logbook;
  const cache = lb.readScanCache(scanKey(ctx, readOwners(ctx.sys, ctx.root)));
  if (ctx.ahead && !ctx.ahead.pending && cache.index !== undefined && cache.index === lb.indexStamp()) await quickBase(ctx, cache, cache.meta);
}

/** What changed between two trees, as worked out ahead, or from what the quick look changed, when it was. */
function describe(ctx: Context, from: string | undefined, to: string): Promise<Changes> {
  const known = ctx.ahead?.changes;
  if (known && known.from === from && known.to === to) return Promise.resolve(known.changes);
  const quick = ctx.ahead?.quick;
  if (quick && quick.from === from && quick.to === to) return changesOf(ctx.logbook, quick.raw, to, [], { contents: ctx.ahead!.known ?? new Map(), shards: quick.shards });
  return diffSnapshots(ctx.logbook, from, to);
}

export interface Head {
  id: string;
  tree: string;
  base: string;
}

/**
 * The line's latest snapshot, its tree and base name; undefined before the first. Read from the
 * logbook's files where they say it plainly (the latest snapshot is a loose object), else from git.
 */
async function readHead(lb: Logbook): Promise<Head | undefined> {
  const id = lb.headId();
  if (id === null) return undefined;
  const data = id && lb.readLooseObject(id, "commit");
  const commit = data && commitTreeAndMessage(data);
  if (id && commit) return { id, tree: commit.tree, base: parseMessage(commit.message).meta.base ?? "" };
  const out = await lb.git(["log", "-1", "--format=%H%x00%T%x00%(trailers:key=Vml-Base,valueonly,separator=)", "HEAD", "--"], { allowFail: true });
  const [gitId, tree, base] = out.toString().trim().split("\0");
  return gitId ? { id: gitId, tree, base } : undefined;
}

export async function commit(ctx: Context, opts: CommitOptions & { describe?: boolean }): Promise<CommitResult & { changes?: Changes }> {
  ctx.logbook.requireExists();
  return withLock(ctx, () => commitLocked(ctx, opts));
}

/**
 * A snapshot whose message is made from what changed (the daemon's automatic snapshots). The
 * environment recorded last is kept: a daemon has no user shell of its own.
 */
export async function commitDescribed(ctx: Context, trigger: Trigger, summary: (c: Changes) => string, hints?: string[]): Promise<CommitResult & { message?: string }> {
  const lb = ctx.logbook;
  lb.requireExists();
  return withLock(ctx, async () => {
    const headP = readHead(lb);
    const staged = await stage(ctx, { keepEnv: true, hints });
    const head = await headP;
    if (head && head.tree === staged.tree) return { id: head.id, unchanged: true, parent: head.id, tree: staged.tree, scan: staged.scan };
    const message = summary(await describe(ctx, head?.tree, staged.tree));
    const id = await writeCommit(ctx, staged, head, { message, trigger });
    return { id, unchanged: false, parent: head?.id, tree: staged.tree, scan: staged.scan, message };
  });
}

/**
 * A snapshot, for callers that already hold the logbook's lock. With `describe`, what changed is read
 * while the commit is written (two cores, two jobs).
 */
export async function commitLocked(ctx: Context, opts: CommitOptions & { describe?: boolean }): Promise<CommitResult & { changes?: Changes }> {
  const lb = ctx.logbook;
  // The daemon knows the line's latest snapshot; the ref's compare-and-swap tells when it went stale.
  const known = ctx.ahead?.head;
  const headP = known ? Promise.resolve(known) : readHead(lb);
  const staged = await stage(ctx, { ...opts, quick: Boolean(ctx.ahead) });
  opts.staged?.(staged.tree);
  let head = await headP;
  // "Nothing changed" is only said of the line as it is.
  if (known && head?.tree === staged.tree) head = await readHead(lb);
  if (head && head.tree === staged.tree) {
    return { id: head.id, unchanged: true, parent: head.id, tree: staged.tree, scan: staged.scan };
  }
  const changesP = opts.describe ? describe(ctx, head?.tree, staged.tree) : undefined;
  // Awaited once the snapshot is published. When the line moved (the retry below), it is dropped:
  // the tree the daemon knew may be gone (a deleted snapshot's), which only this answer needed.
  changesP?.catch(() => undefined);
  let id: string;
  try {
    id = await writeCommit(ctx, staged, head, opts);
  } catch (e) {
    const now = known && (await readHead(lb));
    if (!now || now.id === head?.id) throw e;
    // Another command moved the line since the daemon looked: again, from the line as it is.
    ctx.ahead!.head = undefined;
    return commitLocked(ctx, opts);
  }
  ctx.log.debug({ id }, "snapshot published");
  return { id, unchanged: false, parent: head?.id, tree: staged.tree, scan: staged.scan, changes: await changesP };
}

async function writeCommit(ctx: Context, { tree, synced, ownObjects }: Staged, head: Head | undefined, opts: CommitOptions): Promise<string> {
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
  // Every object of the snapshot is on disk before the ref that makes it exist: flushed with the
  // file system at once, or, when the agent wrote all that was not yet flushed (the quick way),
  // those files, or, when the rest already was, the commit alone.
  const id = lb.writeCommit(
    { tree, parents: head ? [head.id] : [], author: { name: user, email: `${user}@${host}`, date }, committer: { name: "vml-agent", email: `vml-agent@${host}`, date }, message },
    synced,
  );
  if (!synced) await lb.flushObjects(!ownObjects);
  // Compare-and-swap: a concurrent writer that moved the line makes this fail instead of losing work.
  await lb.moveRef("HEAD", id, head?.id ?? ZERO_ID, `vml ${opts.trigger}`);
  if (ctx.ahead) ctx.ahead.head = { id, tree, base: head?.base || config.base };
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
