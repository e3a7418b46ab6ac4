// A snapshot's trees held in memory (by the daemon, which takes snapshot after snapshot of the same
// work area): a small change then writes its few trees itself, as `git write-tree` would, without a
// git process reading and writing the whole index twice. Pure: objects are stored through `store`.

import { nameKey, parentKey } from "../model/manifest.js";

/** A blob's place in a tree: git's mode ("100644", "100755", "120000") and its id. */
export interface TreeBlob {
  mode: string;
  id: string;
}

interface Folder {
  /** Files and symlinks by name (latin1 keys, byte-exact). */
  blobs: Map<string, TreeBlob>;
  /** Names of the subfolders known below it (present in the tree while they hold anything). */
  subs: Set<string>;
  /** Its tree id; undefined when it holds nothing (git leaves empty trees out). */
  tree?: string;
}

/** What the model says differs from the tree it started from: path → [old id, new id] (ZERO when absent). */
export type RawChanges = Map<string, [string, string]>;

const ABSENT = "0".repeat(40);
export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

const depthOf = (key: string) => (key === "" ? 0 : key.split("/").length);

interface TreeEntry {
  /** The name as git sorts it: a subtree's as if it ended in "/" (latin1, so by bytes). */
  order: string;
  name: string;
  mode: string;
  id: string;
}

const byOrder = (a: TreeEntry, b: TreeEntry) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0);

/** A tree object's data: "MODE NAME\0" and the 20-byte id per entry, in git's order. */
function renderTree(entries: TreeEntry[]): Buffer {
  entries.sort(byOrder);
  const out = Buffer.allocUnsafe(entries.reduce((n, e) => n + e.mode.length + e.name.length + 22, 0));
  let at = 0;
  for (const e of entries) {
    at += out.write(`${e.mode} ${e.name}\0`, at, "latin1");
    at += out.write(e.id, at, "hex");
  }
  return out;
}

export class TreeModel {
  private readonly folders = new Map<string, Folder>();
  private readonly dirty = new Set<string>();
  /** Blob paths changed since the last takeChanges: their id then (ABSENT when there was none). */
  private readonly before = new Map<string, string>();

  private constructor(
    /** The tree the model holds now. */
    public tree: string,
  ) {
    this.folders.set("", { blobs: new Map(), subs: new Set() });
  }

  /**
   * From `git ls-tree -r -t -z --full-tree TREE`; undefined when the tree holds what a snapshot never
   * does (a submodule), so that only git writes it.
   */
  static parse(tree: string, listing: Buffer): TreeModel | undefined {
    const model = new TreeModel(tree);
    model.folders.get("")!.tree = tree === EMPTY_TREE ? undefined : tree;
    const text = listing.toString("latin1");
    for (let pos = 0; pos < text.length; ) {
      const end = text.indexOf("\0", pos);
      const tab = text.indexOf("\t", pos);
      const [mode, type, id] = text.slice(pos, tab).split(" ");
      const key = text.slice(tab + 1, end);
      pos = end + 1;
      if (type === "tree") model.folder(key).tree = id;
      else if (type === "blob") model.folder(parentKey(key)).blobs.set(nameKey(key), { mode, id });
      else return undefined;
    }
    return model;
  }

  /** The folder at `key`, made (with its ancestors) when new. */
  private folder(key: string): Folder {
    let f = this.folders.get(key);
    if (f) return f;
    f = { blobs: new Map(), subs: new Set() };
    this.folders.set(key, f);
    if (key !== "") this.folder(parentKey(key)).subs.add(nameKey(key));
    return f;
  }

  private touch(key: string): void {
    for (let k = key; !this.dirty.has(k); k = parentKey(k)) {
      this.dirty.add(k);
      if (k === "") break;
    }
  }

  blob(path: string): TreeBlob | undefined {
    return this.folders.get(parentKey(path))?.blobs.get(nameKey(path));
  }

  private note(path: string, old: TreeBlob | undefined): void {
    if (!this.before.has(path)) this.before.set(path, old?.id ?? ABSENT);
  }

  /** Sets (or with undefined, removes) the blob at `path`. */
  setBlob(path: string, blob: TreeBlob | undefined): void {
    const dir = parentKey(path);
    const name = nameKey(path);
    const f = blob ? this.folder(dir) : this.folders.get(dir);
    const old = f?.blobs.get(name);
    if (!f || (old?.id === blob?.id && old?.mode === blob?.mode)) return;
    this.note(path, old);
    if (blob) f.blobs.set(name, blob);
    else f.blobs.delete(name);
    this.touch(dir);
  }

  /** Replaces every blob directly in a folder (one that was read whole). */
  setFolderBlobs(dir: string, blobs: Map<string, TreeBlob>): void {
    const old = this.folders.get(dir)?.blobs ?? new Map<string, TreeBlob>();
    for (const name of old.keys()) if (!blobs.has(name)) this.setBlob(dir ? `${dir}/${name}` : name, undefined);
    for (const [name, b] of blobs) this.setBlob(dir ? `${dir}/${name}` : name, b);
  }

  /** Takes a folder and everything below it out of the tree. */
  dropFolder(dir: string): void {
    const f = this.folders.get(dir);
    if (!f || dir === "") return;
    for (const sub of f.subs) this.dropFolder(`${dir}/${sub}`);
    for (const [name, b] of f.blobs) this.note(`${dir}/${name}`, b);
    this.folders.delete(dir);
    this.folders.get(parentKey(dir))?.subs.delete(nameKey(dir));
    this.touch(parentKey(dir));
  }

  /**
   * Writes the trees of every folder changed since the last write, deepest first, through `store`
   * (tree object data → id); the new root tree's id.
   */
  write(store: (data: Buffer) => string): string {
    const order = [...this.dirty].sort((a, b) => depthOf(b) - depthOf(a));
    for (const key of order) {
      const f = this.folders.get(key);
      if (!f) continue;
      const entries: TreeEntry[] = [];
      for (const [name, b] of f.blobs) entries.push({ order: name, name, mode: b.mode, id: b.id });
      for (const name of f.subs) {
        const sub = this.folders.get(key ? `${key}/${name}` : name);
        if (sub?.tree) entries.push({ order: `${name}/`, name, mode: "40000", id: sub.tree });
      }
      f.tree = entries.length ? store(renderTree(entries)) : undefined;
    }
    this.dirty.clear();
    this.tree = this.folders.get("")!.tree ?? store(Buffer.alloc(0));
    return this.tree;
  }

  /** Blob paths whose id changed since the last call (or the load), with both ids (ABSENT when none). */
  takeChanges(): RawChanges {
    const out: RawChanges = new Map();
    for (const [path, old] of this.before) {
      const now = this.blob(path)?.id ?? ABSENT;
      if (now !== old) out.set(path, [old, now]);
    }
    this.before.clear();
    return out;
  }
}
