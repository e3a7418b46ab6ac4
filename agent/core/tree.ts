// Reading snapshot trees: git's ls-tree records, and entries located by path.
import type { Entry } from "../model/manifest.js";
import type { Logbook } from "./logbook.js";
import { VmlError } from "./errors.js";
import { parseTree, type TreeItem } from "../model/git-object.js";

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

/** Tree objects by id, each read once (through one git process per batch) and kept. */
export class TreeReader {
  private readonly cache = new Map<string, TreeItem[]>();
  private readonly byName = new Map<string, Map<string, TreeItem>>();
  /** `env`: for objects kept apart (an import's quarantine). */
  constructor(
    private readonly lb: Logbook,
    private readonly env?: Record<string, string>,
  ) {}

  async load(ids: string[]): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => !this.cache.has(id));
    const data = await this.lb.readBlobs(wanted, this.env);
    wanted.forEach((id, i) => {
      const items = data[i] && parseTree(data[i]!);
      if (!items) throw new VmlError("GIT_FAILED", `tree ${id} cannot be read`);
      this.cache.set(id, items);
    });
  }

  items(id: string): TreeItem[] {
    return this.cache.get(id)!;
  }

  /** A loaded tree's entry of this name; undefined when it has none. */
  entry(id: string, name: string): TreeItem | undefined {
    let names = this.byName.get(id);
    if (!names) this.byName.set(id, (names = new Map(this.items(id).map((e) => [e.name, e]))));
    return names.get(name);
  }

  /** The id of a loaded tree's entry of this name. */
  lookup(id: string, name: string): string | undefined {
    return this.entry(id, name)?.id;
  }

  /** The ids at these paths (latin1 keys, "" for the root itself) below these root trees; one batch per level. */
  async resolve(asks: { root: string; key: string }[]): Promise<(string | undefined)[]> {
    const walks = asks.map((a) => ({ at: a.root as string | undefined, rest: a.key === "" ? [] : a.key.split("/") }));
    for (;;) {
      const going = walks.filter((w) => w.at && w.rest.length);
      if (!going.length) return walks.map((w) => w.at);
      await this.load(going.map((w) => w.at!));
      for (const w of going) {
        const name = w.rest.shift()!;
        const item = this.entry(w.at!, name);
        // Only folders are walked into: a file on the way means the path is not there.
        w.at = item && (w.rest.length === 0 || item.mode === "40000") ? item.id : undefined;
      }
    }
  }
}
