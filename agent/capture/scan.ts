// The scanner: walks the guest root under the rules, never following a symlink, and describes every
// recorded entry. The walk is the truth about what exists; git's index then decides what to re-read.
import type { BytePath, Stat, System } from "../platform/system.js";
import type { RuleSet } from "../model/rules.js";
import { joinPath, type Entry, type EntryType } from "../model/manifest.js";
import type { Owners } from "./owners.js";

export interface ScanResult {
  /** Recorded entries of each directory, keyed by the directory's path in latin1 (byte-exact). */
  dirs: Map<string, { dir: Buffer; entries: Entry[] }>;
  /** Paths whose content git stores (regular files within the size limit, hard links, symlinks). */
  stored: Buffer[];
  skipped: Buffer[];
  large: Buffer[];
  unreadable: Buffer[];
  files: number;
  bytes: number;
}

export interface ScanProgress {
  (files: number, bytes: number): void;
}

const SPECIAL: Partial<Record<Stat["kind"], EntryType>> = { fifo: "p", socket: "s", char: "c", block: "b" };
const SLASH = Buffer.from("/");

export function scan(
  sys: System,
  root: string,
  rules: RuleSet,
  sizeLimit: number,
  owners: Owners,
  progress?: ScanProgress,
): ScanResult {
  const rootBuf = Buffer.from(root === "/" ? "" : root);
  const out: ScanResult = { dirs: new Map(), stored: [], skipped: [], large: [], unreadable: [], files: 0, bytes: 0 };
  const firstLink = new Map<string, Buffer>();
  const abs = (rel: Buffer) => Buffer.concat([rootBuf, SLASH, rel]);

  const entryOf = (name: Buffer, st: Stat, type: EntryType, link?: Buffer): Entry => ({
    name,
    type,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    user: owners.user(st.uid),
    group: owners.group(st.gid),
    mtimeNs: st.mtimeNs,
    size: type === "d" ? 0 : st.size,
    link,
  });

  const walk = (dir: Buffer, dirS: string, parentIndex: number): boolean => {
    let names: BytePath[];
    try {
      names = sys.readdir(dir.length ? abs(dir) : rootBuf.length ? rootBuf : "/");
    } catch {
      out.unreadable.push(dir);
      return false;
    }
    names.sort(Buffer.compare);
    const entries: Entry[] = [];
    for (const name of names) {
      const rel = joinPath(dir, name);
      const st = sys.lstat(abs(rel));
      if (!st) continue; // vanished while we looked
      const nameS = name.toString("utf8");
      const relS = dirS ? `${dirS}/${nameS}` : nameS;
      const isDir = st.kind === "dir";
      const index = rules.decideChild(relS, nameS, isDir, parentIndex);
      const included = rules.isIncluded(index);
      if (isDir) {
        if (included || rules.mayIncludeBelow(relS, index)) {
          const below = walk(rel, relS, index);
          if (included || below) entries.push(entryOf(name, st, "d"));
        }
        continue;
      }
      if (!included) continue;
      const special = SPECIAL[st.kind];
      if (special) {
        entries.push(entryOf(name, st, special));
        out.skipped.push(rel);
        continue;
      }
      if (st.kind === "symlink") {
        entries.push(entryOf(name, st, "l", sys.readlink(abs(rel))));
        out.stored.push(rel);
        continue;
      }
      out.files++;
      out.bytes += st.size;
      if (st.size > sizeLimit) {
        entries.push(entryOf(name, st, "L"));
        out.large.push(rel);
        continue;
      }
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = firstLink.get(key);
        if (first) {
          entries.push(entryOf(name, st, "h", first));
          out.stored.push(rel);
          continue;
        }
        firstLink.set(key, rel);
      }
      entries.push(entryOf(name, st, "f"));
      out.stored.push(rel);
      if (progress && out.files % 1000 === 0) progress(out.files, out.bytes);
    }
    if (entries.length) out.dirs.set(dir.toString("latin1"), { dir, entries });
    return entries.length > 0;
  };

  walk(Buffer.alloc(0), "", -1);
  progress?.(out.files, out.bytes);
  return out;
}
