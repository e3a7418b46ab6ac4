// Owner and group names as the guest knows them (ROOT/etc/passwd and group), not as this host does.
import { createHash } from "node:crypto";
import type { System } from "../platform/system.js";

export interface Owners {
  user(uid: number): string;
  group(gid: number): string;
  /** Changes whenever a name could: part of the scan cache's key. */
  digest: string;
}

export function parseIdFile(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 3 || f[0].startsWith("#")) continue;
    const id = Number(f[2]);
    if (Number.isInteger(id) && !m.has(id)) m.set(id, f[0]);
  }
  return m;
}

export function readOwners(sys: System, root: string): Owners {
  const hash = createHash("sha1");
  const read = (name: string) => {
    const file = `${root}/etc/${name}`;
    const text = sys.exists(file) ? sys.readFile(file).toString() : "";
    hash.update(`${text.length}\0${text}`);
    return parseIdFile(text);
  };
  const users = read("passwd");
  const groups = read("group");
  return { user: (uid) => users.get(uid) ?? "", group: (gid) => groups.get(gid) ?? "", digest: hash.digest("hex") };
}
