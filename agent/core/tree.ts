// Reading a whole snapshot: every manifest entry and every stored blob, by path.
import type { Logbook } from "./logbook.js";
import { joinPath, MANIFEST_DIR, parseShard, type Entry } from "../model/manifest.js";

export interface Located {
  path: Buffer;
  entry: Entry;
}

/** Path keys are latin1 strings of the raw path bytes: one character a byte, exact. */
export type PathMap<T> = Map<string, T>;

export interface TreeRecord {
  mode: string;
  id: string;
  path: Buffer;
}

/** Parses `git ls-tree -z` output; paths stay bytes. */
export function parseLsTree(out: Buffer): TreeRecord[] {
  const recs: TreeRecord[] = [];
  let pos = 0;
  while (pos < out.length) {
    const end = out.indexOf(0, pos);
    const tab = out.indexOf(0x09, pos);
    const [mode, , id] = out.subarray(pos, tab).toString().split(" ");
    recs.push({ mode, id, path: out.subarray(tab + 1, end) });
    pos = end + 1;
  }
  return recs;
}

export async function loadManifest(lb: Logbook, treeish: string): Promise<PathMap<Located>> {
  const shards = parseLsTree(await lb.git(["ls-tree", "-r", "-z", treeish, "--", MANIFEST_DIR]));
  const blobs = await lb.readBlobs(shards.map((s) => s.id));
  const out: PathMap<Located> = new Map();
  for (const blob of blobs) {
    if (!blob) continue;
    const shard = parseShard(blob.toString());
    for (const entry of shard.entries) {
      const path = joinPath(shard.dir, entry.name);
      out.set(path.toString("latin1"), { path, entry });
    }
  }
  return out;
}

/** Blob ids of the stored content (files and symlinks) of a snapshot. */
export async function loadStored(lb: Logbook, treeish: string): Promise<PathMap<string>> {
  const out: PathMap<string> = new Map();
  for (const r of parseLsTree(await lb.git(["ls-tree", "-r", "-z", "--full-tree", treeish]))) {
    if (r.path[0] === 0x2e && r.path.subarray(0, 5).toString() === ".vml/") continue;
    out.set(r.path.toString("latin1"), r.id);
  }
  return out;
}
