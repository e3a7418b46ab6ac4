// `verify`: is the logbook sound? git's own check, then every snapshot's manifest against its tree.
import type { Logbook } from "./logbook.js";
import { BASE_REF, ZERO_ID } from "./logbook.js";
import { VmlError } from "./errors.js";
import { FORMAT_FILE } from "./snapshot.js";
import { joinPath, keptShards, MANIFEST_DIR, parentKey, parseShard, shardPath, STORED_TYPES, type Shard } from "../model/manifest.js";
import { escapeBytes } from "../model/escape.js";
import { parseLsTree, TreeReader } from "./tree.js";
import { parseMessage } from "../model/message.js";
import { commitTreeAndMessage, type TreeItem } from "../model/git-object.js";

export interface VerifyReport {
  snapshots: number;
  refs: number;
  problems: string[];
  /** Contents imports named as base content this machine never had: known gaps, not damage. */
  importGaps: number;
}

const show = (p: Buffer) => "/" + escapeBytes(p);

export async function verify(lb: Logbook): Promise<VerifyReport> {
  lb.requireExists();
  const problems: string[] = [];
  const fsck = await lb.run(["fsck", "--full", "--strict", "--no-dangling", "--no-progress"]);
  const complaints = fsck.code === 0 ? [] : (fsck.stdout.toString() + fsck.stderr).split("\n").filter(Boolean);
  let gaps = new Set<string>();
  const counts = { snapshots: 0, refs: 0 };
  try {
    gaps = await importGaps(lb);
    await checkSnapshots(lb, problems, counts);
  } catch (e) {
    // A logbook too damaged for git to read its history: what was found so far, and where it stopped.
    if (!(e instanceof VmlError && e.code === "GIT_FAILED")) throw e;
    problems.push(`the history cannot be read further: ${e.message}`);
  }
  problems.unshift(...withoutGaps(complaints, gaps).map((l) => `git fsck: ${l}`));
  return { ...counts, problems, importGaps: gaps.size };
}

/** Snapshots read per round: what one round caches (its trees and shards) is let go after it. */
const ROUND = 500;

/**
 * Every ref names a snapshot; every snapshot's manifest matches its content. Counts what it saw.
 * A snapshot is checked where it differs from its parent (checked too, being in the history): the
 * folders whose files or shards changed. A parentless one (the base, the first of an imported line)
 * is checked whole. So a long history costs its changes, not its length times the work area.
 */
async function checkSnapshots(lb: Logbook, problems: string[], counts: { snapshots: number; refs: number }): Promise<void> {
  const refs = (await lb.gitText(["for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", "refs/heads/", "refs/tags/", BASE_REF])).split("\n").filter(Boolean);
  for (const r of refs) {
    const [name, , type] = r.split(" ");
    if (type !== "commit") problems.push(`${name} points to a ${type}, not a snapshot`);
  }
  counts.refs = refs.length;
  const history = (await lb.gitText(["rev-list", "--parents", "--branches", "--tags", BASE_REF])).split("\n").filter(Boolean);
  counts.snapshots = history.length;
  for (let i = 0; i < history.length; i += ROUND) {
    const round = history.slice(i, i + ROUND).map((l) => ({ id: l.slice(0, 40), parent: l.slice(41, 81) }));
    await checkRound(lb, round, problems);
  }
}

/** What a snapshot's diff against its parent touches: folders (latin1 keys) and shards changed. */
interface Touched {
  folders: Set<string>;
  shards: { path: string; from: string; to: string }[];
}

async function checkRound(lb: Logbook, round: { id: string; parent: string }[], problems: string[]): Promise<void> {
  const trees = new TreeReader(lb);
  const roots = new Map<string, string>();
  const bodies = await lb.readBlobs(round.map((c) => c.id));
  round.forEach((c, i) => {
    const commit = bodies[i] && commitTreeAndMessage(bodies[i]!);
    if (!commit) throw new VmlError("GIT_FAILED", `snapshot ${c.id.slice(0, 12)} cannot be read`);
    roots.set(c.id, commit.tree);
    if (!parseMessage(commit.message).meta.trigger) problems.push(`${c.id.slice(0, 12)}: not a VML snapshot (no Vml-Trigger trailer)`);
  });
  const touched = await changesOf(lb, round);

  // Shards that changed: each parsed once; those written are checked for their name too.
  const shards = new ShardReader(lb);
  await shards.load(round.flatMap((c) => touched.get(c.id)!.shards.flatMap((s) => [s.from, s.to])));
  for (const c of round) {
    const t = touched.get(c.id)!;
    for (const s of t.shards) {
      for (const blob of [s.from, s.to]) {
        const shard = shards.get(blob);
        if (shard && typeof shard !== "string") t.folders.add(shard.dir.toString("latin1"));
      }
      const now = shards.get(s.to);
      if (typeof now === "string") problems.push(`${c.id.slice(0, 12)}: ${s.path}: ${now}`);
      else if (now && shardPath(now.dir, now.bucket) !== s.path) problems.push(`${c.id.slice(0, 12)}: ${s.path}: shard stored under the wrong name`);
    }
  }

  // Each touched folder's tree and shards, as the snapshot holds them.
  const asked = round.flatMap((c) => [FORMAT_FILE, MANIFEST_DIR.slice(0, -1), ...touched.get(c.id)!.folders].map((key) => ({ commit: c.id, key })));
  const found = await trees.resolve(asked.map((a) => ({ root: roots.get(a.commit)!, key: a.key })));
  const manifestOf = new Map<string, string | undefined>();
  const folders: { commit: string; key: string; tree?: string }[] = [];
  asked.forEach((a, i) => {
    if (a.key === FORMAT_FILE) {
      if (!found[i]) problems.push(`${a.commit.slice(0, 12)}: no ${FORMAT_FILE}`);
    } else if (a.key === MANIFEST_DIR.slice(0, -1)) manifestOf.set(a.commit, found[i]);
    else folders.push({ ...a, tree: found[i] });
  });
  await trees.load([...manifestOf.values()].filter((m): m is string => m !== undefined));
  await trees.load([...manifestOf.values()].flatMap((m) => (m ? trees.items(m).filter((f) => f.mode === "40000").map((f) => f.id) : [])));
  const shardIds = folders.map((f) => shardsIn(trees, manifestOf.get(f.commit), Buffer.from(f.key, "latin1")));
  await shards.load(shardIds.flat().map((s) => s.id));
  await trees.load(folders.flatMap((f) => (f.tree ? [f.tree] : [])));
  folders.forEach((f, i) => checkFolder(f.commit, f.key, f.tree ? trees.items(f.tree) : [], shardIds[i], shards, problems));
}

/** Per snapshot, what changed against its parent (against nothing when it has none), from one git process. */
async function changesOf(lb: Logbook, round: { id: string; parent: string }[]): Promise<Map<string, Touched>> {
  const touched = new Map<string, Touched>(round.map((c) => [c.id, { folders: new Set<string>(), shards: [] }]));
  const out = await lb.git(["diff-tree", "--stdin", "-r", "-z", "--no-abbrev", "--no-renames", "--root"], {
    input: round.map((c) => (c.parent ? `${c.id} ${c.parent}` : c.id)).join("\n") + "\n",
  });
  let current: Touched | undefined;
  let pos = 0;
  while (pos < out.length) {
    const end = out.indexOf(0, pos);
    const field = out.toString("latin1", pos, end < 0 ? out.length : end);
    pos = end < 0 ? out.length : end + 1;
    if (!field.startsWith(":")) {
      current = touched.get(field.slice(0, 40));
      continue;
    }
    // ":MODE MODE FROM TO STATUS", then the path.
    const [, , from, to] = field.split(" ");
    const pathEnd = out.indexOf(0, pos);
    const path = out.toString("latin1", pos, pathEnd < 0 ? out.length : pathEnd);
    pos = pathEnd < 0 ? out.length : pathEnd + 1;
    if (!current) continue;
    if (path.startsWith(MANIFEST_DIR)) current.shards.push({ path, from: from === ZERO_ID ? "" : from, to: to === ZERO_ID ? "" : to });
    else if (!path.startsWith(".vml/")) current.folders.add(parentKey(path));
  }
  return touched;
}

/** The shards of a folder's record a snapshot holds: its one shard, or the buckets of a split one. */
function shardsIn(trees: TreeReader, manifest: string | undefined, dir: Buffer): { path: string; id: string }[] {
  if (!manifest) return [];
  const idOf = (path: string) => {
    const [fan, name] = path.slice(MANIFEST_DIR.length).split("/");
    const sub = trees.lookup(manifest, fan);
    return sub && trees.lookup(sub, name);
  };
  const present = { has: (path: string) => idOf(path) !== undefined };
  const whole = keptShards(dir, false, present);
  return (whole.length ? whole : keptShards(dir, true, present)).map((path) => ({ path, id: idOf(path)! }));
}

/** A folder's stored files against its shards' entries: each listed one stored, with the right mode, and nothing else. */
function checkFolder(commit: string, key: string, items: TreeItem[], shardIds: { path: string; id: string }[], shards: ShardReader, problems: string[]): void {
  const at = commit.slice(0, 12);
  const files = new Map(items.filter((e) => e.mode !== "40000").map((e) => [e.name, e]));
  const listed = new Set<string>();
  for (const { id } of shardIds) {
    const shard = shards.get(id);
    // Unreadable or misnamed shards were reported where they were written.
    if (!shard || typeof shard === "string" || shard.dir.toString("latin1") !== key) continue;
    for (const e of shard.entries) {
      if (!STORED_TYPES.has(e.type)) continue;
      const name = e.name.toString("latin1");
      listed.add(name);
      const t = files.get(name);
      const want = e.type === "l" ? "120000" : e.mode & 0o100 ? "100755" : "100644";
      const path = joinPath(shard.dir, e.name);
      if (!t) problems.push(`${at}: ${show(path)} is in the manifest but its content is not in the snapshot`);
      else if (t.mode !== want) problems.push(`${at}: ${show(path)} is stored as ${t.mode}, the manifest says ${want}`);
    }
  }
  const dir = Buffer.from(key, "latin1");
  for (const [name] of files) if (!listed.has(name)) problems.push(`${at}: ${show(joinPath(dir, Buffer.from(name, "latin1")))} is stored but missing from the manifest`);
}

/** Manifest shards by blob id, each parsed once; a string says why one cannot be. */
class ShardReader {
  private readonly cache = new Map<string, Shard | string>();
  constructor(private readonly lb: Logbook) {}

  async load(ids: string[]): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => id && !this.cache.has(id));
    const data = await this.lb.readBlobs(wanted);
    wanted.forEach((id, i) => {
      try {
        this.cache.set(id, parseShard(data[i]?.toString() ?? ""));
      } catch (e) {
        this.cache.set(id, (e as Error).message);
      }
    });
  }

  get(id: string): Shard | string | undefined {
    return id ? this.cache.get(id) : undefined;
  }
}

/** The blobs imports recorded as missing here (docs/FORMAT.md, "Export file"), from the paths they named. */
async function importGaps(lb: Logbook): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const [ref, paths] of lb.missingContent()) {
    const keys = new Set(paths.map((p) => p.toString("latin1")));
    for (const e of parseLsTree(await lb.git(["ls-tree", "-r", "-z", "--full-tree", ref]))) if (keys.has(e.path.toString("latin1"))) ids.add(e.id);
  }
  return ids;
}

/**
 * git fsck's complaints less those about known gaps: "missing blob ID", and "broken link from
 * <tree>" whose next line is "to blob ID".
 */
function withoutGaps(lines: string[], gaps: Set<string>): string[] {
  const gap = (l: string | undefined) => {
    const m = l && /(?:^missing blob|^\s*to\s+blob) ([0-9a-f]{40})$/.exec(l);
    return Boolean(m && gaps.has(m[1]));
  };
  return lines.filter((l, i) => !gap(l) && !(/^broken link from/.test(l) && gap(lines[i + 1])));
}
