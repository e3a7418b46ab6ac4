// The manifest: metadata git does not keep, one small text shard per directory (docs/FORMAT.md,
// "Manifest"). Pure: renders and parses shards; never touches the disk.
import { createHash } from "node:crypto";
import { escapeBytes, escapeText, unescapeBytes, unescapeText } from "./escape.js";

/**
 * f regular file (content stored)   h hard link to an earlier path (content stored at both)
 * l symlink (target kept verbatim)  d directory
 * L regular file over the size limit: listed, content not stored
 * p fifo, s socket, c/b devices: listed, never stored (skipped)
 */
export type EntryType = "f" | "h" | "l" | "d" | "L" | "p" | "s" | "c" | "b";

export interface Entry {
  name: Buffer;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  user: string;
  group: string;
  mtimeNs: bigint;
  size: number;
  /** Symlink target, or for a hard link the path (from the root) of the first name of the file. */
  link?: Buffer;
}

export const STORED_TYPES: ReadonlySet<EntryType> = new Set(["f", "h", "l"]);
const ENTRY_TYPES: ReadonlySet<string> = new Set("fhldLpscb");

export const MANIFEST_DIR = ".vml/manifest/";
const HEADER = "#vml-manifest 1";
/** Directories with more entries than this are split in 256 shards by name, so one edit stays small. */
export const SHARD_SPLIT = 1000;

export interface Shard {
  dir: Buffer; // relative to the root, "" for the root itself
  bucket?: string; // two hex digits when the directory is split
  entries: Entry[];
}

export function bucketOf(name: Buffer): string {
  return createHash("sha1").update(name).digest("hex").slice(0, 2);
}

/** Path of a shard inside the snapshot tree. */
export function shardPath(dir: Buffer, bucket?: string): string {
  const h = createHash("sha1").update(dir);
  if (bucket !== undefined) h.update("\0" + bucket);
  const hex = h.digest("hex");
  return `${MANIFEST_DIR}${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/** The shards of a directory's record that a tree holds (`present`: its paths), one or its buckets when split. */
export function keptShards(dir: Buffer, split: boolean, present: { has(path: string): boolean }): string[] {
  const paths = split ? Array.from({ length: 256 }, (_, b) => shardPath(dir, b.toString(16).padStart(2, "0"))) : [shardPath(dir)];
  return paths.filter((p) => present.has(p));
}

/** Splits one directory's entries into its shards (one, or 256 buckets for big directories). */
export function shardsOf(dir: Buffer, entries: Entry[]): Shard[] {
  if (entries.length <= SHARD_SPLIT) return [{ dir, entries }];
  const buckets = new Map<string, Entry[]>();
  for (const e of entries) {
    const b = bucketOf(e.name);
    const list = buckets.get(b);
    if (list) list.push(e);
    else buckets.set(b, [e]);
  }
  return [...buckets].map(([bucket, list]) => ({ dir, bucket, entries: list }));
}

/** Whole seconds rounded down and the nanoseconds after them, also before 1970 (-1 ns is -1.999999999). */
export function formatMtime(ns: bigint): string {
  let s = ns / 1_000_000_000n;
  let frac = ns % 1_000_000_000n;
  if (frac < 0n) {
    s -= 1n;
    frac += 1_000_000_000n;
  }
  return `${s}.${frac.toString().padStart(9, "0")}`;
}

const MTIME = /^-?\d+\.\d{9}$/;

export function parseMtime(s: string): bigint {
  if (!MTIME.test(s)) throw new Error(`bad mtime "${s}"`);
  const point = s.length - 10;
  // After 1970 the digits without the point are the nanoseconds: one conversion instead of three.
  return s[0] === "-" ? BigInt(s.slice(0, point)) * 1_000_000_000n + BigInt(s.slice(point + 1)) : BigInt(s.slice(0, point) + s.slice(point + 1));
}

function sortByName(entries: Entry[]): Entry[] {
  return [...entries].sort((a, b) => Buffer.compare(a.name, b.name));
}

export function renderEntry(e: Entry): string {
  return [
    escapeBytes(e.name),
    e.type,
    e.mode.toString(8).padStart(4, "0"),
    e.uid,
    e.gid,
    escapeText(e.user),
    escapeText(e.group),
    formatMtime(e.mtimeNs),
    e.size,
    e.link ? escapeBytes(e.link) : "",
  ].join("\t");
}

export function renderShard(s: Shard): string {
  const head = [HEADER, `dir\t${s.dir.length ? escapeBytes(s.dir) : "."}${s.bucket ? `\t${s.bucket}` : ""}`];
  return [...head, ...sortByName(s.entries).map(renderEntry)].join("\n") + "\n";
}

export function parseShard(text: string): Shard {
  const lines = text.split("\n");
  if (lines[0] !== HEADER) throw new Error("not a version 1 manifest shard");
  const head = (lines[1] ?? "").split("\t");
  if (head[0] !== "dir" || head.length < 2) throw new Error("manifest shard without its directory");
  const dir = head[1] === "." ? Buffer.alloc(0) : unescapeBytes(head[1]);
  const entries: Entry[] = [];
  for (const line of lines.slice(2)) {
    if (line === "") continue;
    const f = line.split("\t");
    if (f.length !== 10 || !ENTRY_TYPES.has(f[1])) throw new Error(`bad manifest line "${line}"`);
    entries.push({
      name: unescapeBytes(f[0]),
      type: f[1] as EntryType,
      mode: parseInt(f[2], 8),
      uid: Number(f[3]),
      gid: Number(f[4]),
      user: unescapeText(f[5]),
      group: unescapeText(f[6]),
      mtimeNs: parseMtime(f[7]),
      size: Number(f[8]),
      link: f[9] === "" ? undefined : unescapeBytes(f[9]),
    });
  }
  return { dir, bucket: head[2], entries };
}

/** A NUL anywhere, or an empty, "." or ".." component: one test for each of a work area's paths. */
const UNSAFE_PATH = /\0|(?:^|\/)\.{0,2}(?:\/|$)/;

/** A path read from the logbook (its latin1 key) is used only if each of its names is one plain path component. */
export function safePath(key: string): boolean {
  return key.length > 0 && !UNSAFE_PATH.test(key);
}

/** The folder holding a path, as a key (latin1 string of its bytes); "" for the root's entries. */
export function parentKey(key: string): string {
  const slash = key.lastIndexOf("/");
  return slash < 0 ? "" : key.slice(0, slash);
}

/** The last name of a path, as a key. */
export function nameKey(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

export function joinPath(dir: Buffer, name: Buffer): Buffer {
  return dir.length ? Buffer.concat([dir, Buffer.from("/"), name]) : name;
}
