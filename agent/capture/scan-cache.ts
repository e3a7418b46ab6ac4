// The scan cache: what the last scan learnt about each folder it walked, so the next one can trust
// a folder nothing happened in (docs/FORMAT.md, "Scan cache"). Pure: parses and renders the file.

export interface CachedDir {
  /** The folder's own stat; undefined when it was too recent to trust (then it is read again). */
  stamp?: string;
  /** It has a manifest shard (something under it is recorded). */
  recorded: boolean;
  /**
   * Read it again next time: it holds entries git does not vouch for (specials, files over the
   * limit, hard links) or entries changed too recently to trust their timestamps.
   */
  reread: boolean;
  /**
   * Its entries changed too recently to trust their timestamps were all files the snapshot hashed
   * itself and handed to git without a stat: git names them at its next look, which looks at them
   * again (the folder's record serves for the rest).
   */
  named: boolean;
  /** Its shard is split in buckets. */
  split: boolean;
  /**
   * It holds entries no watch vouches for: a file with more names (changed through another), a
   * special file, a file over the size limit. Such a folder is always read whole.
   */
  keep: boolean;
}

export interface ScanCache {
  /** Hash of what decides a scan besides the files: rules, size limit, owner names. */
  key: string;
  /** By the folder's path in latin1 (byte-exact). */
  dirs: Map<string, CachedDir>;
  /**
   * The index's `.vml/` entries (path → blob id) as the last snapshot left them, valid while the
   * index file's stat still equals `index`: git need not read the whole index to list them.
   */
  index?: string;
  meta: Map<string, string>;
  /** The tree the index held at `index`: with nothing to add, a snapshot need not ask git again. */
  tree?: string;
  /** Every object of `tree` is flushed to disk: its snapshot need not flush the file system again. */
  synced?: boolean;
  /** The package database's stamp when the index's package list was read from it. */
  packages?: string;
}

const HEADER = "#vml-scan-cache 3";

export function parseScanCache(text: string, key: string): ScanCache {
  const empty: ScanCache = { key, dirs: new Map(), meta: new Map() };
  const lines = text.split("\n");
  if (lines[0] !== HEADER || lines[1] !== `key ${key}`) return empty;
  for (const l of lines.slice(2)) {
    const f = l.split(" ");
    if (f[0] === "index" && f.length === 2) empty.index = f[1];
    if (f[0] === "packages" && f.length === 2) empty.packages = f[1];
    if (f[0] === "tree" && (f.length === 2 || (f.length === 3 && f[2] === "synced"))) {
      empty.tree = f[1];
      empty.synced = f.length === 3;
    }
    if (f[0] === "m" && f.length === 3) empty.meta.set(f[2], f[1]);
    if (f[0] !== "d" || f.length !== 4) continue;
    const [, stamp, flags, hex] = f;
    empty.dirs.set(Buffer.from(hex, "hex").toString("latin1"), {
      stamp: stamp === "-" ? undefined : stamp,
      recorded: flags.includes("r"),
      reread: flags.includes("u"),
      named: flags.includes("n"),
      split: flags.includes("s"),
      keep: flags.includes("k"),
    });
  }
  return empty;
}

export function renderScanCache(cache: ScanCache): string {
  const lines = [HEADER, `key ${cache.key}`];
  if (cache.index) lines.push(`index ${cache.index}`);
  if (cache.tree) lines.push(`tree ${cache.tree}${cache.synced ? " synced" : ""}`);
  if (cache.packages) lines.push(`packages ${cache.packages}`);
  for (const [path, id] of cache.meta) lines.push(`m ${id} ${path}`);
  for (const [dir, c] of cache.dirs) {
    const flags = `${c.recorded ? "r" : ""}${c.reread ? "u" : ""}${c.named ? "n" : ""}${c.split ? "s" : ""}${c.keep ? "k" : ""}` || "-";
    lines.push(`d ${c.stamp ?? "-"} ${flags} ${Buffer.from(dir, "latin1").toString("hex")}`);
  }
  return lines.join("\n") + "\n";
}
