// Naming and listing snapshots: REF resolution and the history of a line of work.
import { VmlError } from "./errors.js";
import { BASE_REF, type Logbook } from "./logbook.js";
import { parseMessage, type SnapshotMeta } from "../model/message.js";
import { renamedPrefix, renamedTo } from "./rewrite.js";

/** REF: a snapshot id or unique prefix, a tag, a line of work, `base`, `@` (latest) or `@~N`. */
export async function resolveRef(lb: Logbook, ref: string): Promise<string> {
  lb.requireExists();
  let spec: string | undefined;
  if (ref === "@") spec = "HEAD";
  else if (/^@~\d+$/.test(ref)) spec = `HEAD~${ref.slice(2)}`;
  else if (ref === "base") spec = BASE_REF;
  else if (/^[0-9a-f]{4,40}$/i.test(ref)) spec = ref.toLowerCase();
  else if (/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(ref) && !ref.includes("..")) spec = ref;
  const id = spec && (await lb.revParse(`${spec}^{commit}`));
  if (id) return id;
  // An id from before history was rewritten (delete, prune) still names its snapshot.
  if (/^[0-9a-f]{4,40}$/i.test(ref)) {
    const olds = [...new Set(renamedPrefix(lb, ref.toLowerCase()))];
    if (olds.length === 1) {
      const now = renamedTo(lb, olds[0]);
      if (now === null) throw new VmlError("UNKNOWN_REF", `snapshot ${olds[0].slice(0, 12)} was deleted`);
      if (now) return now;
    }
  }
  throw new VmlError("UNKNOWN_REF", `unknown snapshot "${ref}" (use an id or unique prefix, a tag, a line, base, @ or @~N)`);
}

export interface SnapshotInfo {
  id: string;
  parent?: string;
  tree: string;
  time: string;
  author: string;
  message: string;
  meta: Partial<SnapshotMeta>;
}

const FIELDS = ["%H", "%P", "%T", "%cI", "%an", "%B"];

function parseRecord(rec: string): SnapshotInfo {
  const [id, parents, tree, time, author, ...body] = rec.split("\x1f");
  const { message, meta } = parseMessage(body.join("\x1f"));
  return { id, parent: parents.split(" ")[0] || undefined, tree, time, author, message, meta };
}

async function listRecords(lb: Logbook, args: string[]): Promise<SnapshotInfo[]> {
  const out = await lb.git(["log", "-z", `--format=${FIELDS.join("%x1f")}`, ...args]);
  return out
    .toString()
    .split("\0")
    .filter((r) => r.trim() !== "")
    .map(parseRecord);
}

export async function snapshotInfo(lb: Logbook, id: string): Promise<SnapshotInfo> {
  return (await listRecords(lb, ["-1", id]))[0];
}

export async function history(lb: Logbook, from: string, limit?: number): Promise<SnapshotInfo[]> {
  return listRecords(lb, [...(limit ? [`-${limit}`] : []), from]);
}
