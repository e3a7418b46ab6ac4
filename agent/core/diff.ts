// What differs between two snapshot trees: files (content, type, mode, owner, group, time, as
// snapper's status flags), packages, environment variables and CernVM-FS repositories.
import { ZERO_ID, type Logbook } from "./logbook.js";
import { CVMFS_FILE, ENV_FILE, PACKAGES_FILE } from "./snapshot.js";
import { bucketOf, MANIFEST_DIR, nameKey, parentKey, parseShard, shardPath, type Entry, type Shard } from "../model/manifest.js";
import { diffPackages, parsePackages, type PackageChanges } from "../model/packages.js";
import { diffEnv, parseEnv, type EnvChanges } from "../model/env.js";
import { diffCvmfs, parseCvmfs, type CvmfsChanges } from "../model/cvmfs.js";

const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

export interface FileChange {
  path: Buffer;
  /** The path's bytes as a latin1 string: a map key, and in byte order when compared as strings. */
  key: string;
  /** Five columns: [+-ct.] content/type, then p (mode), u (owner), g (group), m (time only). */
  flags: string;
  old?: Entry;
  new?: Entry;
  /** The second snapshot's content (blob id) when the content differs from the first's. */
  blob?: string;
}

export interface Changes {
  files: FileChange[];
  packages: PackageChanges;
  env: EnvChanges;
  cvmfs: CvmfsChanges;
}

export interface RawChange {
  oldId: string;
  newId: string;
  /** Latin1, as FileChange.key. */
  key: string;
}

/** ":OLDMODE NEWMODE " comes first in each raw record: two six-digit octal modes. */
const IDS_AT = ":100644 100644 ".length;
const ID_LENGTH = 40;

async function diffTree(lb: Logbook, a: string, b: string): Promise<RawChange[]> {
  // One conversion of the whole listing, then slices of it: a whole work area's listing is tens of
  // thousands of records, and a conversion per field cost more than git's own work.
  const out = (await lb.git(["diff-tree", "-r", "-z", "--no-renames", "--raw", a, b])).toString("latin1");
  const recs: RawChange[] = [];
  let pos = 0;
  while (pos < out.length) {
    const end = out.indexOf("\0", pos);
    const pend = out.indexOf("\0", end + 1);
    const oldAt = pos + IDS_AT;
    const newAt = oldAt + ID_LENGTH + 1;
    recs.push({ oldId: out.slice(oldAt, oldAt + ID_LENGTH), newId: out.slice(newAt, newAt + ID_LENGTH), key: out.slice(end + 1, pend) });
    pos = pend + 1;
  }
  return recs;
}

/** The same kind of entry (a hard link is a file). */
export function sameKind(a: Entry, b: Entry): boolean {
  const norm = (t: string) => (t === "h" ? "f" : t);
  return norm(a.type) === norm(b.type);
}

function flagsOf(a: Entry | undefined, b: Entry | undefined, contentChanged: boolean): string {
  if (!a) return "+....";
  if (!b) return "-....";
  const linkChanged = a.type === "l" && b.type === "l" && !a.link!.equals(b.link!);
  const largeChanged = a.type === "L" && b.type === "L" && a.size !== b.size;
  // A file that became another name of a file, stopped being one, or now shares another file's
  // content: the same content, but no longer the same file.
  const sharingChanged = (a.type === "h" || b.type === "h") && !(a.type === b.type && a.link!.equals(b.link!));
  const first = !sameKind(a, b) || sharingChanged ? "t" : contentChanged || linkChanged || largeChanged ? "c" : ".";
  const p = a.mode !== b.mode ? "p" : ".";
  const u = a.uid !== b.uid || a.user !== b.user ? "u" : ".";
  const g = a.gid !== b.gid || a.group !== b.group ? "g" : ".";
  const m = first === "." && a.mtimeNs !== b.mtimeNs ? "m" : ".";
  return first + p + u + g + m;
}

function underAny(key: string, prefixes: string[]): boolean {
  if (!prefixes.length) return true;
  return prefixes.some((p) => key === p || (key.length > p.length && key.startsWith(p) && key[p.length] === "/"));
}

/** Objects by id, from `known` where it has them and from the logbook in one read for the rest. */
async function readKnown(lb: Logbook, ids: string[], known?: ReadonlyMap<string, Buffer>): Promise<(Buffer | undefined)[]> {
  if (!known) return lb.readBlobs(ids);
  const missing = ids.filter((id) => id !== "-" && id !== ZERO_ID && !known.has(id));
  const read = await lb.readBlobs(missing);
  const got = new Map(missing.map((id, i) => [id, read[i]]));
  return ids.map((id) => known.get(id) ?? got.get(id));
}

/** The manifest entries of these paths (latin1 keys) in tree-ish `tree`, where it records them. */
async function recordedEntries(lb: Logbook, tree: string, keys: string[]): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  if (!keys.length) return out;
  // A folder's one shard, or the bucket the name falls in when the folder was split: each read and
  // parsed once for all the names it holds (a folder of thousands rewritten in place).
  const specsOf = (key: string) => {
    const dir = Buffer.from(parentKey(key), "latin1");
    return [`${tree}:${shardPath(dir)}`, `${tree}:${shardPath(dir, bucketOf(Buffer.from(nameKey(key), "latin1")))}`];
  };
  const specs = [...new Set(keys.flatMap(specsOf))];
  const blobs = await lb.readBlobs(specs);
  const shards = new Map<string, Map<string, Entry>>();
  specs.forEach((spec, i) => {
    if (blobs[i]) shards.set(spec, new Map(parseShard(blobs[i].toString()).entries.map((e) => [e.name.toString("latin1"), e])));
  });
  for (const key of keys) {
    const [whole, bucket] = specsOf(key);
    const e = (shards.get(whole) ?? shards.get(bucket))?.get(nameKey(key));
    if (e) out.set(key, e);
  }
  return out;
}

const NO_ENTRIES: ReadonlyMap<string, Entry> = new Map();

/** Byte order of paths, through their latin1 keys (one char per byte). */
export const byKey = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Changes from tree-ish `a` to tree-ish `b`, optionally limited to paths (relative, no leading "/"). */
export async function diffSnapshots(lb: Logbook, a: string | undefined, b: string, paths: Buffer[] = []): Promise<Changes> {
  return changesOf(lb, await diffTree(lb, a ?? EMPTY_TREE, b), b, paths);
}

/** Records the caller has at hand by blob id (it just wrote or read them): contents, and shards parsed. */
export interface AtHand {
  contents: ReadonlyMap<string, Buffer>;
  shards: ReadonlyMap<string, Shard>;
}

/**
 * The changes that blob ids changing at these paths make, on the way to tree-ish `to`. Records not
 * `atHand` are read from the logbook.
 */
export async function changesOf(lb: Logbook, raw: RawChange[], to: string, paths: Buffer[] = [], atHand?: AtHand): Promise<Changes> {
  const contentChanged = new Map<string, string>();
  const shards: RawChange[] = [];
  const special = new Map<string, RawChange>();
  for (const r of raw) {
    const p = r.key;
    if (p.startsWith(MANIFEST_DIR)) shards.push(r);
    else if (p.startsWith(".vml/")) special.set(p, r);
    else contentChanged.set(p, r.newId);
  }

  // Entries of every directory touched, before and after, merged over split shards, by name (latin1).
  const before = new Map<string, Map<string, Entry>>();
  const after = new Map<string, Map<string, Entry>>();
  const dirs = new Set<string>();
  // One read for every blob involved: shards first, then the packages, env and cvmfs records.
  const records = [PACKAGES_FILE, ENV_FILE, CVMFS_FILE].map((f) => special.get(f));
  const ids = [...shards, ...records].flatMap((s) => (s ? [s.oldId, s.newId] : ["-", "-"]));
  // Shards already parsed need no reading.
  const blobs = await readKnown(lb, ids.map((id, i) => (i < shards.length * 2 && atHand?.shards.has(id) ? "-" : id)), atHand?.contents);
  const recordText = (k: number): [string | undefined, string | undefined] => {
    const at = shards.length * 2 + k * 2;
    return [blobs[at]?.toString(), blobs[at + 1]?.toString()];
  };
  for (let i = 0; i < shards.length * 2; i++) {
    const blob = blobs[i];
    const shard = atHand?.shards.get(ids[i]) ?? (blob && parseShard(blob.toString()));
    if (!shard) continue;
    const key = shard.dir.toString("latin1");
    dirs.add(key);
    const side = i % 2 === 0 ? before : after;
    let m = side.get(key);
    if (!m) side.set(key, (m = new Map()));
    for (const e of shard.entries) m.set(e.name.toString("latin1"), e);
  }

  const files: FileChange[] = [];
  const scope = paths.map((p) => p.toString("latin1"));
  const compare = (dir: string, name: string, ea: Entry | undefined, eb: Entry | undefined) => {
    const key = dir ? `${dir}/${name}` : name;
    if (!underAny(key, scope)) return;
    const blob = contentChanged.get(key);
    const flags = flagsOf(ea, eb, blob !== undefined);
    if (flags !== ".....") files.push({ path: Buffer.from(key, "latin1"), key, flags, old: ea, new: eb, blob: blob && blob !== ZERO_ID ? blob : undefined });
  };
  for (const dir of dirs) {
    const a0 = before.get(dir) ?? NO_ENTRIES;
    const b0 = after.get(dir) ?? NO_ENTRIES;
    for (const [name, ea] of a0) compare(dir, name, ea, b0.get(name));
    for (const [name, eb] of b0) if (!a0.has(name)) compare(dir, name, undefined, eb);
  }
  // Content that changed while its record did not (rewritten with the same size and time): its
  // folder's record is the same on both sides, read from `to`.
  const unrecorded = [...contentChanged.keys()].filter((key) => {
    const [dir, name] = [parentKey(key), nameKey(key)];
    return underAny(key, scope) && !before.get(dir)?.has(name) && !after.get(dir)?.has(name);
  });
  for (const [key, e] of await recordedEntries(lb, to, unrecorded)) compare(parentKey(key), nameKey(key), e, e);
  files.sort(byKey);

  const [pa, pb] = recordText(0);
  const [ea, eb] = recordText(1);
  const [ca, cb] = recordText(2);
  const wholeTree = paths.length === 0;
  return {
    files,
    packages: wholeTree && special.has(PACKAGES_FILE) ? diffPackages(pa ? parsePackages(pa) : undefined, pb ? parsePackages(pb) : undefined) : { added: [], removed: [], changed: [] },
    env: wholeTree && special.has(ENV_FILE) ? diffEnv(ea ? parseEnv(ea) : {}, eb ? parseEnv(eb) : {}) : { set: [], changed: [], unset: [] },
    cvmfs: wholeTree && special.has(CVMFS_FILE) ? diffCvmfs(ca ? parseCvmfs(ca) : [], cb ? parseCvmfs(cb) : []) : { added: [], removed: [], changed: [] },
  };
}
