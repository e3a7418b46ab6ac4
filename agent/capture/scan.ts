// The scanner: walks the guest root under the rules, never following a symlink, and describes every
// recorded entry. Folders are cheap to check and files are many: a folder whose own stat matches
// the scan cache has the same names as last time, so only its subfolders are looked at; which of
// its files changed is git's to say (its index holds their stat), and those folders are read again.
import type { BytePath, Stat, System } from "../platform/system.js";
import type { RuleSet } from "../model/rules.js";
import { joinPath, nameKey, parentKey, SHARD_SPLIT, STORED_TYPES, type Entry, type EntryType } from "../model/manifest.js";
import type { Owners } from "./owners.js";
import type { CachedDir, ScanCache } from "./scan-cache.js";

export interface ScannedDir {
  dir: Buffer;
  /** Recorded entries when the folder was read; undefined when the cache vouched for it. */
  entries?: Entry[];
  /** Something under it is recorded: it has a shard. */
  recorded: boolean;
  split: boolean;
  /** Read it again next scan (see CachedDir.reread). */
  reread: boolean;
  /** Its recent files are named by git at its next look (see CachedDir.named). */
  named: boolean;
  /** Always read whole (see CachedDir.keep). */
  keep: boolean;
  /** Its own stat for the next cache; undefined when too recent to trust or unreadable. */
  stamp?: string;
  /** Its stat differs from the cache's: its entry in the parent's shard must be rendered again. */
  changed: boolean;
  rel: string;
  ruleIndex: number;
}

export interface ScanResult {
  /** Every folder walked, keyed by its path in latin1 (byte-exact). */
  dirs: Map<string, ScannedDir>;
  skipped: Buffer[];
  large: Buffer[];
  unreadable: Buffer[];
  /**
   * Regular files of the folders read whose change time is in the racy window: git compares change
   * times to the second, so a change in the same second as its look would pass its stat check.
   */
  recent: { path: Buffer; entry: Entry }[];
  /** Files and bytes in the folders that were read (all of them when nothing was cached). */
  files: number;
  bytes: number;
  /** Entries taken from a folder's last record without a look: git vouches for them (see Patch). */
  reused: WeakSet<Entry>;
}

export interface ScanProgress {
  (files: number, bytes: number): void;
}

/**
 * The daemon's way to read a folder whose names did not change (quick-trees.ts): its last record,
 * with only the names its watch saw change (and its subfolders) looked at again.
 */
export interface Patch {
  /** The folder's entries as the last snapshot recorded them (latin1 key); undefined when unknown. */
  recorded(key: string): Entry[] | undefined;
  /** Paths the watch named (latin1 keys). */
  hinted: ReadonlySet<string>;
}

/** What reading a folder gathers. */
interface Gathered {
  entries: Entry[];
  reread: boolean;
  keep: boolean;
  /**
   * What the read adds to the scan's result, added when the read is settled: a patched read that
   * gives up half-way leaves nothing behind for the whole read that follows.
   */
  found: Pick<ScanResult, "skipped" | "large" | "recent" | "files" | "bytes">;
  linked: { key: string; path: Buffer; entry: Entry }[];
  reused: Entry[];
}

const gathering = (): Gathered => ({ entries: [], reread: false, keep: false, found: { skipped: [], large: [], recent: [], files: 0, bytes: 0 }, linked: [], reused: [] });

/** Entry types by the kind of file they record (a file: stored, a hard link, over the limit). */
const KIND_OF: Record<EntryType, Stat["kind"]> = { f: "file", h: "file", L: "file", l: "symlink", d: "dir", p: "fifo", s: "socket", c: "char", b: "block" };

const SPECIAL: Partial<Record<Stat["kind"], EntryType>> = { fifo: "p", socket: "s", char: "c", block: "b" };
const SLASH = Buffer.from("/");

/** A folder's own stat, as far as its names and its line in the parent's shard depend on it. */
function stampOf(st: Stat): string {
  return `${st.mtimeNs}.${st.ctimeNs}.${st.ino}.${st.dev}.${st.mode}.${st.uid}.${st.gid}`;
}

/** Walk order: depth first, names in byte order, so "a/b" comes before "a-c". */
function walkOrder(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    if (a[i] === 0x2f) return -1;
    if (b[i] === 0x2f) return 1;
    return a[i] - b[i];
  }
  return a.length - b.length;
}

export class Scanner {
  readonly result: ScanResult = { dirs: new Map(), skipped: [], large: [], unreadable: [], recent: [], files: 0, bytes: 0, reused: new WeakSet() };
  private readonly rootBuf: Buffer;
  private readonly cachedChildren = new Map<string, string[]>();
  /** Files with more than one name, by device:inode, resolved into hard links once all reads are done. */
  private readonly linked = new Map<string, { path: Buffer; entry: Entry }[]>();
  /** With a focus: the focused folders and their ancestors, the only ones looked at. */
  private onPath?: Set<string>;

  constructor(
    private readonly sys: System,
    root: string,
    private readonly rules: RuleSet,
    private readonly sizeLimit: number,
    private readonly owners: Owners,
    private readonly cache: ScanCache,
    /** Entries changed at or after this time make their folder's stamp untrustworthy. */
    private readonly racyAfterNs: bigint,
    private readonly progress?: ScanProgress,
    private readonly patch?: Patch,
  ) {
    this.rootBuf = Buffer.from(root === "/" ? "" : root);
    for (const key of cache.dirs.keys()) {
      if (key === "") continue;
      const p = parentKey(key);
      const list = this.cachedChildren.get(p);
      if (list) list.push(key);
      else this.cachedChildren.set(p, [key]);
    }
  }

  private abs(rel: Buffer): Buffer | string {
    return rel.length ? Buffer.concat([this.rootBuf, SLASH, rel]) : this.rootBuf.length ? this.rootBuf : "/";
  }

  /**
   * Pass one: every folder's own stat; folders that changed, or hold what git cannot vouch for, are
   * read. With `focus` (folders a watch saw change), the cache is trusted for every other folder
   * and they are not even looked at.
   */
  walk(focus?: Set<string>): void {
    if (focus) {
      this.onPath = new Set();
      for (const key of focus) for (let k = key; !this.onPath.has(k); k = parentKey(k)) {
        this.onPath.add(k);
        if (k === "") break;
      }
    }
    const st = this.sys.lstat(this.abs(Buffer.alloc(0)));
    if (st) this.visit(Buffer.alloc(0), "", -1, st);
  }

  /** A folder the cache vouches for without a look (outside the focus), with all below it. */
  private trust(dir: Buffer, rel: string, ruleIndex: number, cached: CachedDir): void {
    this.result.dirs.set(dir.toString("latin1"), { dir, rel, ruleIndex, stamp: cached.stamp, changed: false, recorded: cached.recorded, split: cached.split, reread: cached.reread, named: cached.named, keep: cached.keep });
    for (const c of this.cachedSubfolders(dir, rel, ruleIndex)) this.trust(c.dir, c.rel, c.ruleIndex, c.cached);
  }

  /** The subfolders the cache knows below a folder, with their paths and the rules' decisions. */
  private *cachedSubfolders(dir: Buffer, rel: string, ruleIndex: number): Generator<{ dir: Buffer; key: string; rel: string; ruleIndex: number; cached: CachedDir }> {
    const decide = this.rules.childDecider(rel, ruleIndex);
    for (const key of this.cachedChildren.get(dir.toString("latin1")) ?? []) {
      const child = Buffer.from(key, "latin1");
      const name = child.subarray(dir.length ? dir.length + 1 : 0).toString("utf8");
      const childRel = rel ? `${rel}/${name}` : name;
      yield { dir: child, key, rel: childRel, ruleIndex: decide(childRel, name, true), cached: this.cache.dirs.get(key)! };
    }
  }

  private visit(dir: Buffer, rel: string, ruleIndex: number, st: Stat): ScannedDir {
    const key = dir.toString("latin1");
    const cached: CachedDir | undefined = this.cache.dirs.get(key);
    const stamp = this.racy(st) ? undefined : stampOf(st);
    const w: ScannedDir = {
      dir,
      rel,
      ruleIndex,
      stamp,
      changed: !stamp || cached?.stamp !== stamp,
      recorded: cached?.recorded ?? false,
      split: cached?.split ?? false,
      reread: cached?.reread ?? false,
      named: cached?.named ?? false,
      keep: cached?.keep ?? false,
    };
    this.result.dirs.set(key, w);
    if (w.changed || !cached || cached.reread) {
      this.read(w);
      return w;
    }
    // Same names as last time: only the subfolders can have changed below this one.
    let reread = false;
    for (const c of this.cachedSubfolders(dir, rel, ruleIndex)) {
      if (this.onPath && !this.onPath.has(c.key) && !c.cached.reread && c.cached.stamp) {
        this.trust(c.dir, c.rel, c.ruleIndex, c.cached);
        continue;
      }
      const childSt = this.sys.lstat(this.abs(c.dir));
      if (!childSt || childSt.kind !== "dir") {
        reread = true; // changed within one clock tick of the folder's last look
        continue;
      }
      if (this.visit(c.dir, c.rel, c.ruleIndex, childSt).changed) reread = true;
    }
    if (reread) this.read(w);
    return w;
  }

  /**
   * Pass two: the folders holding these paths (files git or the watch says changed; relative to the
   * root), read again; with `patch`, from their records where it has them.
   */
  recheck(paths: Iterable<Buffer>, patch = this.patch): void {
    for (const p of paths) {
      const slash = p.lastIndexOf(0x2f);
      const w = this.result.dirs.get(slash < 0 ? "" : p.subarray(0, slash).toString("latin1"));
      if (w && !w.entries) this.read(w, patch);
    }
  }

  /** The folders holding these paths that pass two would read, whose names are as cached: a patch may serve them. */
  patchable(paths: Iterable<Buffer>): Set<string> {
    const keys = new Set<string>();
    for (const p of paths) {
      const slash = p.lastIndexOf(0x2f);
      const key = slash < 0 ? "" : p.subarray(0, slash).toString("latin1");
      const w = this.result.dirs.get(key);
      const cached = this.cache.dirs.get(key);
      if (w && !w.entries && !w.changed && cached && !cached.keep) keys.add(key);
    }
    return keys;
  }

  /** Reads folders the cache vouched for but whose shard is not at hand, then settles hard links. */
  finish(hasShard: (w: ScannedDir) => boolean): ScanResult {
    for (const w of this.result.dirs.values()) if (!w.entries && w.recorded && !hasShard(w)) this.read(w);
    for (const names of this.linked.values()) {
      if (names.length < 2) continue;
      names.sort((a, b) => walkOrder(a.path, b.path));
      for (const { entry } of names.slice(1)) {
        entry.type = "h";
        entry.link = names[0].path;
      }
    }
    this.progress?.(this.result.files, this.result.bytes);
    return this.result;
  }

  /**
   * After git indexed the files of the folders read: a file that changed between our look and git's
   * may be recorded with old metadata while git holds its new stat and would call it clean next time.
   * Such a folder is read again by the next scan, unless git has no stat for the file (`statless`:
   * hashed by the snapshot itself), which makes git name it next time. Returns whether a stored file
   * went away meanwhile: git may then have left it out while its folder's record lists it, and the
   * look must be redone.
   */
  confirm(statless: (path: Buffer) => boolean): boolean {
    let vanished = false;
    for (const w of this.result.dirs.values()) {
      if (!w.entries) continue;
      for (const e of w.entries) {
        if (!STORED_TYPES.has(e.type) || this.result.reused.has(e)) continue;
        const path = joinPath(w.dir, e.name);
        const st = this.sys.lstat(this.abs(path));
        if (st && (!this.racy(st) || statless(path))) continue;
        w.reread = true;
        if (!st) vanished = true;
        else if (vanished) break;
      }
    }
    return vanished;
  }

  private racy(st: Stat): boolean {
    return st.ctimeNs >= this.racyAfterNs || st.mtimeNs >= this.racyAfterNs;
  }

  private entryOf(name: Buffer, st: Stat, type: EntryType, link?: Buffer): Entry {
    return {
      name,
      type,
      mode: st.mode,
      uid: st.uid,
      gid: st.gid,
      user: this.owners.user(st.uid),
      group: this.owners.group(st.gid),
      mtimeNs: st.mtimeNs,
      size: type === "d" ? 0 : st.size,
      link,
    };
  }

  private read(w: ScannedDir, patch = this.patch): void {
    if (patch && this.readPatched(w, patch)) return;
    let names: BytePath[];
    try {
      names = this.sys.readdir(this.abs(w.dir));
    } catch {
      this.result.unreadable.push(w.dir);
      w.entries = [];
      w.recorded = false;
      w.reread = true;
      return;
    }
    names.sort(Buffer.compare);
    const decide = this.rules.childDecider(w.rel, w.ruleIndex);
    const got = gathering();
    for (const name of names) {
      const st = this.sys.lstat(this.abs(joinPath(w.dir, name)));
      if (st) this.look(w, name, st, decide, got); // else it vanished while we looked
    }
    this.settle(w, got);
  }

  /**
   * A folder whose names are the same as at the last snapshot, from that snapshot's record: only the
   * names the watch saw change and the subfolders are looked at. False when that cannot be vouched
   * for (then the folder is read whole).
   */
  private readPatched(w: ScannedDir, patch: Patch): boolean {
    const key = w.dir.toString("latin1");
    const cached = this.cache.dirs.get(key);
    const old = !w.changed && cached && !cached.keep ? patch.recorded(key) : undefined;
    if (!old) return false;
    const byName = new Map<string, Entry | undefined>(old.map((e) => [e.name.toString("latin1"), e]));
    // Subfolders the last record left out (nothing recorded below them then) may hold something now.
    for (const c of this.cachedChildren.get(key) ?? []) if (!byName.has(nameKey(c))) byName.set(nameKey(c), undefined);
    const decide = this.rules.childDecider(w.rel, w.ruleIndex);
    const got = gathering();
    for (const [nameKey, e] of byName) {
      const name = e?.name ?? Buffer.from(nameKey, "latin1");
      if (e && e.type !== "d" && !patch.hinted.has(key ? `${key}/${nameKey}` : nameKey)) {
        got.entries.push(e);
        got.reused.push(e);
        continue;
      }
      const st = this.sys.lstat(this.abs(joinPath(w.dir, name)));
      // Gone or of another kind while the folder's names stayed: a change within one clock tick.
      if (!st || (e && KIND_OF[e.type] !== st.kind)) return false;
      this.look(w, name, st, decide, got);
    }
    if (got.keep) return false;
    this.settle(w, got);
    return true;
  }

  private settle(w: ScannedDir, got: Gathered): void {
    const out = this.result;
    // One by one: a folder may hold more names than a call takes arguments.
    for (const p of got.found.skipped) out.skipped.push(p);
    for (const p of got.found.large) out.large.push(p);
    for (const r of got.found.recent) out.recent.push(r);
    out.files += got.found.files;
    out.bytes += got.found.bytes;
    for (const e of got.reused) out.reused.add(e);
    for (const { key, path, entry } of got.linked) {
      const list = this.linked.get(key);
      if (list) list.push({ path, entry });
      else this.linked.set(key, [{ path, entry }]);
    }
    w.entries = got.entries;
    w.recorded = got.entries.length > 0;
    w.split = got.entries.length > SHARD_SPLIT;
    w.reread = got.reread || got.keep;
    w.named = got.found.recent.length > 0;
    w.keep = got.keep;
  }

  /** One name of a folder being read: its entry when it is recorded (a subfolder is visited). */
  private look(w: ScannedDir, name: Buffer, st: Stat, decide: (rel: string, name: string, isDir: boolean) => number, got: Gathered): void {
    const out = this.result;
    const path = joinPath(w.dir, name);
    // A recent file (hashed by the snapshot itself) is named by git next time; anything else too
    // recent has its folder read again.
    const push = (e: Entry, recent = false) => {
      got.entries.push(e);
      if (recent) got.found.recent.push({ path, entry: e });
      else if (this.racy(st)) got.reread = true;
    };
    const nameS = name.toString("utf8");
    const rel = w.rel ? `${w.rel}/${nameS}` : nameS;
    const isDir = st.kind === "dir";
    const index = decide(rel, nameS, isDir);
    const included = this.rules.isIncluded(index);
    if (isDir) {
      if (included || this.rules.mayIncludeBelow(rel, index)) {
        const sub = out.dirs.get(path.toString("latin1")) ?? this.visit(path, rel, index, st);
        if (included || sub.recorded) push(this.entryOf(name, st, "d"));
      }
      return;
    }
    if (!included) return;
    const special = SPECIAL[st.kind];
    if (special) {
      push(this.entryOf(name, st, special));
      got.found.skipped.push(path);
      got.keep = true;
      return;
    }
    if (st.kind === "symlink") {
      push(this.entryOf(name, st, "l", this.sys.readlink(this.abs(path))));
      return;
    }
    got.found.files++;
    got.found.bytes += st.size;
    if (st.size > this.sizeLimit) {
      push(this.entryOf(name, st, "L"));
      got.found.large.push(path);
      got.keep = true;
      return;
    }
    const e = this.entryOf(name, st, "f");
    push(e, st.ctimeNs >= this.racyAfterNs);
    if (st.nlink > 1) {
      // Which name is the first is decided in walk order once every folder is read (finish).
      got.linked.push({ key: `${st.dev}:${st.ino}`, path, entry: e });
      got.keep = true;
    }
    const files = out.files + got.found.files;
    if (this.progress && files % 1000 === 0) this.progress(files, out.bytes + got.found.bytes);
  }
}
