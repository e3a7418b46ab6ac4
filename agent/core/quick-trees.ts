// The daemon's quick way to a snapshot's tree: the few files a watch named are hashed here and the
// trees above them written from the daemon's model of the last tree (tree-model.ts), instead of two
// git processes each reading and writing the whole index. The index, git's stat cache, catches up
// with the tree after the answer has gone (settleIndex), under the logbook's lock.
import type { Context } from "./context.js";
import { sameKind, type RawChange } from "./diff.js";
import { TreeModel, type TreeBlob } from "./tree-model.js";
import { objectId } from "../model/git-object.js";
import { joinPath, keptShards, parseShard, STORED_TYPES, type Entry, type Shard } from "../model/manifest.js";
import type { ScanResult } from "../capture/scan.js";
import type { ScanCache } from "../capture/scan-cache.js";

/** Files larger than this are left to git, which streams them; the quick way reads them whole. */
const QUICK_MAX_BYTES = 1 << 20;
/** Files to hash beyond which git's parallel, streaming way is the better one. */
const QUICK_MAX_FILES = 2000;

export interface QuickInput {
  scanned: ScanResult;
  /** The `.vml/` records of the tree the look started from: path → blob id. */
  indexed: ReadonlyMap<string, string>;
  /** The `.vml/` records now: content when rendered anew, undefined when kept. */
  meta: ReadonlyMap<string, Buffer | undefined>;
  /** The shards among them, as rendered. */
  rendered: ReadonlyMap<string, Shard>;
  /** `.vml/` records no longer in the tree. */
  gone: string[];
  /** Stored paths no longer stored (outside the folders read whole). */
  removed: Buffer[];
  /** Folders recorded before and gone now (latin1 keys). */
  vanished: string[];
  /** Paths the watch named (latin1 keys): always hashed anew. */
  hinted: ReadonlySet<string>;
}

/** The index to bring to a tree the quick way wrote, and the scan cache to write once it is. */
export interface PendingIndex {
  tree: string;
  /** The index as the look found it: anything else wrote it since, and it is theirs. */
  indexStamp: string | undefined;
  next: ScanCache;
}

/** git's mode for a stored entry. */
export function modeOf(e: Entry): string {
  return e.type === "l" ? "120000" : e.mode & 0o100 ? "100755" : "100644";
}

/** The entry as recorded last time says the same of the file as now (its content is then the same). */
function sameAsRecorded(old: Entry | undefined, now: Entry): boolean {
  if (!old || !sameKind(old, now) || old.mtimeNs !== now.mtimeNs || old.size !== now.size || old.mode !== now.mode) return false;
  return now.type !== "l" || Boolean(old.link?.equals(now.link!));
}

/**
 * The model of `tree`: the one at hand, brought there by what differs (a look git wrote meanwhile
 * differs in a few paths), or read from git whole.
 */
async function modelOf(ctx: Context, tree: string): Promise<TreeModel | undefined> {
  const lb = ctx.logbook;
  const held = ctx.ahead!.model;
  if (held?.tree === tree) return held;
  ctx.ahead!.model = undefined;
  // The tree held may be gone (a delete purged it): then read whole.
  const diff = held && (await lb.run(["diff-tree", "-r", "-z", "--no-renames", "--raw", held.tree, tree]));
  if (held && diff?.code === 0) {
    const out = diff.stdout.toString("latin1");
    // ":OLDMODE NEWMODE OLDID NEWID STATUS\0PATH\0" per path.
    for (let pos = 0; pos < out.length; ) {
      const end = out.indexOf("\0", pos);
      const [, mode, , id, status] = out.slice(pos + 1, end).split(" ");
      const pend = out.indexOf("\0", end + 1);
      held.setBlob(out.slice(end + 1, pend), status === "D" ? undefined : { mode, id });
      pos = pend + 1;
    }
    held.takeChanges();
    // The trees are there already: only their ids are worked out.
    if (held.write((data) => objectId("tree", data)) === tree) return (ctx.ahead!.model = held);
  }
  const model = TreeModel.parse(tree, await lb.git(["ls-tree", "-r", "-t", "-z", "--full-tree", tree]));
  ctx.ahead!.model = model;
  return model;
}

/** The last snapshot's tree and records, at hand for a quick look (see Patch). */
export interface QuickBase {
  model: TreeModel;
  /** A folder's entries as the last snapshot recorded them. */
  recorded(key: string): Entry[] | undefined;
  /** The shards `recorded` parsed, by blob id. */
  parsed: Map<string, Shard>;
}

/**
 * Makes ready what a quick look compares with: the model of the index's tree, and every record of it
 * kept at hand (read once, with the model: a few MB for 100,000 files). Undefined when the tree
 * cannot be modelled.
 */
export async function quickBase(ctx: Context, cache: ScanCache, indexed: ReadonlyMap<string, string>): Promise<QuickBase | undefined> {
  if (cache.tree === undefined) return undefined;
  const model = await modelOf(ctx, cache.tree);
  if (!model) return undefined;
  const known = (ctx.ahead!.known ??= new Map<string, Buffer>());
  const missing = [...indexed.values()].filter((id) => !known.has(id));
  const fetched = await ctx.logbook.readBlobs(missing);
  missing.forEach((id, i) => fetched[i] && known.set(id, fetched[i]!));
  const held = ctx.ahead!.parsed ?? new Map<string, Shard>();
  const parsed = new Map<string, Shard>();
  const recorded = (key: string): Entry[] | undefined => {
    const ids = keptShards(Buffer.from(key, "latin1"), cache.dirs.get(key)?.split ?? false, indexed).map((p) => indexed.get(p)!);
    if (!ids.length || ids.some((id) => !known.has(id))) return undefined;
    return ids.flatMap((id) => {
      let shard = parsed.get(id) ?? held.get(id);
      if (!shard) shard = parseShard(known.get(id)!.toString());
      parsed.set(id, shard);
      return shard.entries;
    });
  };
  return { model, recorded, parsed };
}

/**
 * The tree of the look the quick way, or undefined when it does not apply (then git writes it):
 * a file too big or too many, or one that changed while it was read.
 */
export async function quickTree(ctx: Context, base: QuickBase, input: QuickInput): Promise<string | undefined> {
  const { sys, root, logbook: lb } = ctx;
  const { scanned, indexed } = input;
  const { model } = base;
  const known = ctx.ahead!.known!;
  const read = [...scanned.dirs].filter(([, d]) => d.entries);
  // What the last snapshot recorded of each folder read: unchanged entries keep their content.
  const recorded = new Map<string, Map<string, Entry>>();
  for (const [key] of read) recorded.set(key, new Map((base.recorded(key) ?? []).map((e) => [e.name.toString("latin1"), e])));
  // Both sides of every shard that changed, parsed, for the description of the change.
  const shards = new Map(base.parsed);

  const rootBuf = Buffer.from(root === "/" ? "" : root);
  const contents: Buffer[] = [];
  const folders = new Map<string, Map<string, TreeBlob>>();
  for (const [key, d] of read) {
    const blobs = new Map<string, TreeBlob>();
    const before = recorded.get(key);
    for (const e of d.entries!) {
      if (!STORED_TYPES.has(e.type)) continue;
      const name = e.name.toString("latin1");
      const pathKey = key ? `${key}/${name}` : name;
      const kept = model.blob(pathKey);
      const mode = modeOf(e);
      if (kept && !input.hinted.has(pathKey) && sameAsRecorded(before?.get(name), e)) {
        blobs.set(name, { mode, id: kept.id });
        continue;
      }
      let content: Buffer;
      if (e.type === "l") content = e.link!;
      else {
        if (e.size > QUICK_MAX_BYTES || contents.length >= QUICK_MAX_FILES) return undefined;
        const abs = Buffer.concat([rootBuf, Buffer.from("/"), joinPath(d.dir, e.name)]);
        try {
          content = sys.readFile(abs);
        } catch {
          return undefined;
        }
        // Changed, replaced or gone since the look: git's way, which the next look repeats, sorts it out.
        const st = sys.lstat(abs);
        if (st?.kind !== "file" || st.size !== content.length || st.mtimeNs !== e.mtimeNs || st.size !== e.size) return undefined;
      }
      contents.push(content);
      blobs.set(name, { mode, id: objectId("blob", content) });
    }
    folders.set(key, blobs);
  }

  // From here on the model changes: nothing may give up half-way.
  lb.writeObjects("blob", contents);
  for (const [key, blobs] of folders) model.setFolderBlobs(key, blobs);
  for (const key of input.vanished) model.dropFolder(key);
  for (const p of input.removed) model.setBlob(p.toString("latin1"), undefined);
  const next = new Map<string, Buffer>();
  for (const [path, content] of input.meta) {
    if (!content) continue;
    const id = objectId("blob", content);
    next.set(id, content);
    const shard = input.rendered.get(path);
    if (shard) shards.set(id, shard);
    model.setBlob(path, { mode: "100644", id });
  }
  for (const path of input.gone) model.setBlob(path, undefined);
  const from = model.tree;
  const raw: RawChange[] = [...model.takeChanges()].map(([key, [oldId, newId]]) => ({ key, oldId, newId }));
  const tree = model.write((data) => lb.writeObjects("tree", [data])[0]);
  // At hand next time: this tree's records, and those of the tree before still in it.
  for (const id of indexed.values()) {
    const content = known.get(id);
    if (content) next.set(id, content);
  }
  ctx.ahead!.known = next;
  ctx.ahead!.parsed = shards;
  ctx.ahead!.quick = { from, to: tree, raw, shards };
  return tree;
}

/**
 * Brings the logbook's index to the tree the quick way wrote: git keeps the stat of every entry whose
 * content is unchanged (`read-tree --reset`), the files hashed here are looked at again by git's next
 * look. Left as it is when anything else wrote the index meanwhile (with a scan cache of its own).
 * Under the logbook's lock. Until it is done, the index and the scan cache describe the tree before:
 * a look trusting them and the watch (which named the changes since the quick look only) would miss
 * what the quick look took, so when it fails, the next look reads everything.
 */
export async function settleIndex(ctx: Context): Promise<void> {
  const pending = ctx.ahead?.pending;
  if (!pending) return;
  ctx.ahead!.pending = undefined;
  const lb = ctx.logbook;
  if (lb.indexStamp() !== pending.indexStamp) {
    ctx.ahead!.model = undefined;
    return;
  }
  try {
    await lb.git(["read-tree", "--reset", pending.tree]);
  } catch (e) {
    lb.dropScanCache();
    ctx.ahead!.model = undefined;
    throw e;
  }
  lb.writeScanCache({ ...pending.next, index: lb.indexStamp() });
  ctx.log.debug({ tree: pending.tree }, "index settled");
}
