// `verify`: is the logbook sound? git's own check, then every snapshot's manifest against its tree.
import type { Logbook } from "./logbook.js";
import { BASE_REF } from "./logbook.js";
import { VmlError } from "./errors.js";
import { FORMAT_FILE } from "./snapshot.js";
import { joinPath, MANIFEST_DIR, parseShard, shardPath, STORED_TYPES, type Shard } from "../model/manifest.js";
import { escapeBytes } from "../model/escape.js";
import { parseLsTree, type TreeRecord } from "./tree.js";
import { parseMessage } from "../model/message.js";

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

/** Every ref names a snapshot; every snapshot's manifest matches its content. Counts what it saw. */
async function checkSnapshots(lb: Logbook, problems: string[], counts: { snapshots: number; refs: number }): Promise<void> {
  const refs = (await lb.gitText(["for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", "refs/heads/", "refs/tags/", BASE_REF])).split("\n").filter(Boolean);
  for (const r of refs) {
    const [name, , type] = r.split(" ");
    if (type !== "commit") problems.push(`${name} points to a ${type}, not a snapshot`);
  }
  counts.refs = refs.length;
  const ids = (await lb.gitText(["rev-list", "--branches", "--tags", BASE_REF])).split("\n").filter(Boolean);
  counts.snapshots = ids.length;
  const shardCache = new Map<string, Shard | string>();
  for (const id of ids) {
    const body = (await lb.gitText(["log", "-1", "--format=%B", id]));
    if (!parseMessage(body).meta.trigger) problems.push(`${id.slice(0, 12)}: not a VML snapshot (no Vml-Trigger trailer)`);
    const entries = parseLsTree(await lb.git(["ls-tree", "-r", "-z", "--full-tree", id]));
    const files = new Map<string, TreeRecord>();
    const shards: TreeRecord[] = [];
    let format = false;
    for (const e of entries) {
      const p = e.path.toString("latin1");
      if (p.startsWith(MANIFEST_DIR)) shards.push(e);
      else if (p === FORMAT_FILE) format = true;
      else if (!p.startsWith(".vml/")) files.set(p, e);
    }
    if (!format) problems.push(`${id.slice(0, 12)}: no ${FORMAT_FILE}`);
    const missing = shards.filter((s) => !shardCache.has(s.id));
    const blobs = await lb.readBlobs(missing.map((s) => s.id));
    missing.forEach((s, i) => {
      try {
        const shard = parseShard(blobs[i]?.toString() ?? "");
        shardCache.set(s.id, shardPath(shard.dir, shard.bucket) === s.path.toString("latin1") ? shard : "shard stored under the wrong name");
      } catch (e) {
        shardCache.set(s.id, (e as Error).message);
      }
    });
    const listed = new Set<string>();
    for (const s of shards) {
      const shard = shardCache.get(s.id)!;
      if (typeof shard === "string") {
        problems.push(`${id.slice(0, 12)}: ${s.path.toString()}: ${shard}`);
        continue;
      }
      for (const e of shard.entries) {
        if (!STORED_TYPES.has(e.type)) continue;
        const path = joinPath(shard.dir, e.name);
        const key = path.toString("latin1");
        listed.add(key);
        const t = files.get(key);
        const want = e.type === "l" ? "120000" : e.mode & 0o100 ? "100755" : "100644";
        if (!t) problems.push(`${id.slice(0, 12)}: ${show(path)} is in the manifest but its content is not in the snapshot`);
        else if (t.mode !== want) problems.push(`${id.slice(0, 12)}: ${show(path)} is stored as ${t.mode}, the manifest says ${want}`);
      }
    }
    for (const [key, t] of files) if (!listed.has(key)) problems.push(`${id.slice(0, 12)}: ${show(t.path)} is stored but missing from the manifest`);
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
