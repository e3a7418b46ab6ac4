// The scanner: walks the guest root under the rules, never following a symlink, and describes every
// recorded entry. The walk is the truth about what exists; git's index then decides what to re-read.
import { createHash, type Hash } from "node:crypto";
import type { BytePath, Stat, System } from "../platform/system.js";
import type { RuleSet } from "../model/rules.js";
import { joinPath, type Entry, type EntryType } from "../model/manifest.js";
import type { Owners } from "./owners.js";

export interface ScannedDir {
  dir: Buffer;
  entries: Entry[];
  /**
   * Hash of everything stat says about the entries, ctime and inode included: when it equals the
   * last scan's, git need not look at this directory's files again. Undefined when an entry changed
   * too recently to trust its timestamps (the "racy" case git also guards against).
   */
  fingerprint?: string;
}

export interface ScanResult {
  /** Recorded entries of each directory, keyed by the directory's path in latin1 (byte-exact). */
  dirs: Map<string, ScannedDir>;
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
/** Scratch for one entry's stat fields in a directory fingerprint (reused: the scan is synchronous). */
const STAMP = Buffer.alloc(52);

export function scan(
  sys: System,
  root: string,
  rules: RuleSet,
  sizeLimit: number,
  owners: Owners,
  progress?: ScanProgress,
  /** Entries changed at or after this time make their directory's fingerprint untrustworthy. */
  racyAfterNs = 0n,
): ScanResult {
  const rootBuf = Buffer.from(root === "/" ? "" : root);
  const out: ScanResult = { dirs: new Map(), skipped: [], large: [], unreadable: [], files: 0, bytes: 0 };
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
    const decide = rules.childDecider(dirS, parentIndex);
    const entries: Entry[] = [];
    const fp: Hash = createHash("sha1");
    let racy = false;
    const push = (st: Stat, e: Entry) => {
      entries.push(e);
      STAMP.writeUInt32LE(e.mode | (e.type.charCodeAt(0) << 16), 0);
      STAMP.writeUInt32LE(e.uid, 4);
      STAMP.writeUInt32LE(e.gid, 8);
      STAMP.writeBigInt64LE(st.mtimeNs, 12);
      STAMP.writeBigInt64LE(st.ctimeNs, 20);
      STAMP.writeBigUInt64LE(st.ino, 28);
      STAMP.writeBigUInt64LE(st.dev, 36);
      STAMP.writeDoubleLE(st.size, 44);
      // Everything the shard renders is in the fingerprint: a renamed user changes it too.
      fp.update(e.name).update(STAMP).update(`${e.user}\0${e.group}\0`);
      if (e.link) fp.update(e.link);
      if (st.ctimeNs >= racyAfterNs || st.mtimeNs >= racyAfterNs) racy = true;
    };
    for (const name of names) {
      const rel = joinPath(dir, name);
      const st = sys.lstat(abs(rel));
      if (!st) continue; // vanished while we looked
      const nameS = name.toString("utf8");
      const relS = dirS ? `${dirS}/${nameS}` : nameS;
      const isDir = st.kind === "dir";
      const index = decide(relS, nameS, isDir);
      const included = rules.isIncluded(index);
      if (isDir) {
        if (included || rules.mayIncludeBelow(relS, index)) {
          const below = walk(rel, relS, index);
          if (included || below) push(st, entryOf(name, st, "d"));
        }
        continue;
      }
      if (!included) continue;
      const special = SPECIAL[st.kind];
      if (special) {
        push(st, entryOf(name, st, special));
        out.skipped.push(rel);
        continue;
      }
      if (st.kind === "symlink") {
        push(st, entryOf(name, st, "l", sys.readlink(abs(rel))));
        continue;
      }
      out.files++;
      out.bytes += st.size;
      if (st.size > sizeLimit) {
        push(st, entryOf(name, st, "L"));
        out.large.push(rel);
        continue;
      }
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = firstLink.get(key);
        if (first) {
          push(st, entryOf(name, st, "h", first));
            continue;
        }
        firstLink.set(key, rel);
      }
      push(st, entryOf(name, st, "f"));
      if (progress && out.files % 1000 === 0) progress(out.files, out.bytes);
    }
    if (entries.length) out.dirs.set(dir.toString("latin1"), { dir, entries, fingerprint: racy ? undefined : fp.digest("hex") });
    return entries.length > 0;
  };

  walk(Buffer.alloc(0), "", -1);
  progress?.(out.files, out.bytes);
  return out;
}
