// Reading snapshot trees: git's ls-tree records, and entries located by path.
import type { Entry } from "../model/manifest.js";

export interface Located {
  path: Buffer;
  entry: Entry;
}

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
