// Planning a restore: the steps that bring the live tree to a snapshot, from the difference between
// the two, with what cannot be restored (and why) kept apart. Reads the logbook; writes nothing.
import type { Context } from "./context.js";
import type { Located } from "./tree.js";
import type { Logbook } from "./logbook.js";
import { byKey, diffSnapshots, type FileChange } from "./diff.js";
import { bucketOf, joinPath, parentKey, parseShard, safePath, shardPath, type Entry } from "../model/manifest.js";

export type Action = "create" | "replace" | "update" | "metadata" | "remove";

export interface Step {
  action: Action;
  path: Buffer;
  /** The path as a latin1 string (FileChange.key). */
  key: string;
  want?: Entry;
  have?: Entry;
  /** Blob of the content to write, for regular files (and hard links whose first name is absent). */
  blob?: string;
}

export interface Refusal {
  path: Buffer;
  reason: string;
}

export interface FilePlan {
  /** In path order: a folder's step comes before those of what it holds. */
  steps: Step[];
  refused: Refusal[];
  /** Folders whose own metadata is set last (children changed, or the folder itself differs). */
  folders: Located[];
  /**
   * Paths (latin1 keys) whose file is not REF's once the plan is applied as far as it goes without
   * writing them: content or type differs, or only the metadata does and the path is left out.
   */
  differing: Set<string>;
}

const norm = (t: Entry["type"]) => (t === "h" || t === "L" ? "f" : t);

const under = (key: string, p: string) => key.length > p.length && key.startsWith(p) && key[p.length] === "/";

/** "in": inside a restored path; "ancestor": a folder on the way to one (created, never removed). Latin1 keys. */
function inScope(key: string, scope: string[]): "in" | "ancestor" | undefined {
  if (!scope.length || scope.some((p) => key === p || under(key, p))) return "in";
  return scope.some((p) => under(p, key)) ? "ancestor" : undefined;
}

function metaDiffers(a: Entry, b: Entry): boolean {
  return a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.user !== b.user || a.group !== b.group || a.mtimeNs !== b.mtimeNs;
}

/**
 * The steps that bring the live tree (`liveTree`, just staged) to `ref` (a tree or snapshot), from the difference
 * between the two: the cost follows what differs. With a scope, only paths inside it change; the
 * folders leading to it are created if missing, never removed. `ownFolders` are folders the restore
 * itself writes into (the environment script's): kept, and their times set again.
 */
export async function planFiles(ctx: Context, ref: string, liveTree: string, scopePaths: Buffer[], ownFolders: string[] = []): Promise<FilePlan> {
  const lb = ctx.logbook;
  const changes = await diffSnapshots(lb, liveTree, ref);
  const plan: FilePlan = { steps: [], refused: [], folders: [], differing: new Set() };
  const touched = new Set<string>(ownFolders);
  const scope = scopePaths.map((p) => p.toString("latin1"));
  for (const c of changes.files) {
    const key = c.key;
    const where = inScope(key, scope);
    if (c.flags[0] !== "." || !where) plan.differing.add(key);
    if (!where) continue;
    if (!c.new && ownFolders.includes(key)) continue;
    if (c.new && !safePath(key)) {
      plan.refused.push({ path: c.path, reason: "refused: not a plain path inside the root" });
      continue;
    }
    const step = decide(c);
    if (!step) continue;
    if ("reason" in step) {
      plan.refused.push({ path: c.path, reason: step.reason });
      continue;
    }
    if (where === "ancestor" && step.action !== "create" && step.action !== "metadata") continue;
    plan.steps.push(step);
    if (step.action !== "metadata") touched.add(parentKey(key));
    if (c.new?.type === "d") touched.add(key);
  }
  // Content an import could not bring (base content this machine lacks) is reported, never guessed.
  const absent = lb.hasMissingContent() ? await lb.missingObjects([...new Set(plan.steps.filter((s) => s.blob).map((s) => s.blob!))]) : new Set<string>();
  if (absent.size) {
    for (const s of plan.steps.filter((x) => x.blob && absent.has(x.blob))) {
      plan.refused.push({ path: s.path, reason: "content not in this logbook (the import lacked this machine's base content)" });
    }
    plan.steps = plan.steps.filter((x) => !(x.blob && absent.has(x.blob)));
  }
  // Changing a folder's children moves its time: every such folder gets its recorded metadata back,
  // from the difference when it holds the folder's entry, else from its parent's shard.
  const inDiff = new Map<string, Located>();
  for (const c of changes.files) if (c.new?.type === "d") inDiff.set(c.key, { path: c.path, entry: c.new });
  const keys = [...touched].filter((k) => inScope(k, scope));
  const read = await folderEntries(lb, ref, keys.filter((k) => !inDiff.has(k)));
  plan.folders = [...keys.flatMap((k) => inDiff.get(k) ?? []), ...read].sort((a, b) => b.path.length - a.path.length);
  plan.steps.sort(byKey);
  return plan;
}

/** The recorded entries of some folders, read from their parents' shards in the snapshot. */
async function folderEntries(lb: Logbook, tree: string, keys: string[]): Promise<Located[]> {
  // A folder's shard is one blob, or one of 256 buckets when the folder is big: both names tried,
  // each once.
  const specs = new Set<string>();
  for (const k of keys) {
    if (k === "") continue;
    const path = Buffer.from(k, "latin1");
    const dir = parentOf(path);
    specs.add(`${tree}:${shardPath(dir)}`);
    specs.add(`${tree}:${shardPath(dir, bucketOf(path.subarray(path.lastIndexOf(0x2f) + 1)))}`);
  }
  const blobs = await lb.readBlobs([...specs]);
  const wantedKeys = new Set(keys);
  const found = new Map<string, Located>();
  for (const blob of blobs) {
    if (!blob) continue;
    const shard = parseShard(blob.toString());
    for (const e of shard.entries) {
      if (e.type !== "d") continue;
      const path = joinPath(shard.dir, e.name);
      const key = path.toString("latin1");
      if (wantedKeys.has(key)) found.set(key, { path, entry: e });
    }
  }
  return [...found.values()];
}

function parentOf(p: Buffer): Buffer {
  const slash = p.lastIndexOf(0x2f);
  return slash < 0 ? Buffer.alloc(0) : p.subarray(0, slash);
}

type Decision = Step | { reason: string } | undefined;

/** What to do with one difference (`c.new` is REF's entry, `c.old` the live one). */
function decide(c: FileChange): Decision {
  const { new: w, old: h, blob } = c;
  // Every step has one shape, built here: the planning of a whole work area makes thousands.
  const step = (action: Action, want = w): Step => ({ action, path: c.path, key: c.key, want, have: h, blob });
  if (!w) return h ? step("remove", undefined) : undefined;
  if (w.type === "L" && (!h || norm(h.type) !== "f" || h.size !== w.size || h.mtimeNs !== w.mtimeNs)) {
    return { reason: `content not stored (over the size limit when recorded, ${w.size} bytes)` };
  }
  if (w.type === "s" || w.type === "c" || w.type === "b") {
    if (!h || h.type !== w.type) return { reason: `${w.type === "s" ? "sockets" : "device files"} are not restored` };
  }
  const stored = w.type === "f" || w.type === "h";
  if (stored && !h && !blob) return { reason: "content missing from the logbook" };
  if (!h) return step("create");
  if (norm(w.type) !== norm(h.type)) return stored && !blob ? { reason: "content missing from the logbook" } : step("replace");
  const linkDiffers = (w.type === "h" && (h.type !== "h" || !h.link!.equals(w.link!))) || (w.type === "l" && !h.link!.equals(w.link!));
  // A name that shares a file now but not in REF becomes a file of its own (same content).
  const unshare = w.type === "f" && h.type === "h";
  if ((stored && blob) || linkDiffers || unshare) return step("update");
  if (metaDiffers(w, h)) return step("metadata");
  return undefined;
}
