// git's object encoding, for the few objects a snapshot writes itself (its metadata records and its
// commit) instead of starting a git process for each: "TYPE SIZE\0DATA", named by its SHA-1. Pure.
import { createHash } from "node:crypto";

export type ObjectType = "blob" | "tree" | "commit";

/** The bytes git hashes and stores (deflated) for an object. */
export function objectBytes(type: ObjectType, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${type} ${data.length}\0`), data]);
}

/** The data of a stored object of this type (inflated), or undefined when it is another type or malformed. */
export function parseObject(type: ObjectType, stored: Buffer): Buffer | undefined {
  const nul = stored.indexOf(0);
  return nul > 0 && stored.toString("latin1", 0, nul) === `${type} ${stored.length - nul - 1}` ? stored.subarray(nul + 1) : undefined;
}

export function objectId(type: ObjectType, data: Buffer): string {
  return createHash("sha1").update(`${type} ${data.length}\0`).update(data).digest("hex");
}

/** Who and when, as git takes them from GIT_AUTHOR_NAME, _EMAIL and _DATE ("SECONDS +HHMM"). */
export interface Ident {
  name: string;
  email: string;
  date: string;
}

export interface CommitFields {
  tree: string;
  parents: string[];
  author: Ident;
  committer: Ident;
  /** Taken verbatim, as `git commit-tree -F` takes it. */
  message: string;
}

/** Characters git trims from both ends of a name or address: controls, space and some punctuation. */
const isCrud = (c: string) => c <= " " || `.,:;<>"\\'`.includes(c);

/**
 * A name or address as git writes it into an identity line: "crud" trimmed from both ends, and the
 * line's own delimiters (newline, angle brackets) dropped from the rest.
 */
function identPart(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isCrud(s[start])) start++;
  while (end > start && isCrud(s[end - 1])) end--;
  return s.slice(start, end).replace(/[\n<>]/g, "");
}

function identLine(role: "author" | "committer", id: Ident): string {
  // git refuses an empty name; a snapshot is never refused for that.
  const name = identPart(id.name) || "unknown";
  return `${role} ${name} <${identPart(id.email)}> ${id.date}\n`;
}

/** The tree a commit's data names, and its message. */
export function commitTreeAndMessage(data: Buffer): { tree: string; message: string } | undefined {
  const text = data.toString();
  const end = text.indexOf("\n\n");
  if (!text.startsWith("tree ") || end < 0) return undefined;
  return { tree: text.slice(5, 45), message: text.slice(end + 2) };
}

/** A commit object's data, byte for byte what `git commit-tree` writes for the same fields. */
export function renderCommit(c: CommitFields): Buffer {
  const head = [`tree ${c.tree}\n`, ...c.parents.map((p) => `parent ${p}\n`), identLine("author", c.author), identLine("committer", c.committer)].join("");
  return Buffer.from(`${head}\n${c.message}`);
}

/** One entry of a tree object; `name` as raw bytes in a latin1 string (one char per byte). */
export interface TreeItem {
  mode: string;
  name: string;
  id: string;
}

/** A tree object's data ("MODE NAME\0" and 20 bytes of id, per entry); undefined when malformed. */
export function parseTree(data: Buffer): TreeItem[] | undefined {
  const items: TreeItem[] = [];
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const nul = data.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > data.length) return undefined;
    items.push({ mode: data.toString("latin1", pos, space), name: data.toString("latin1", space + 1, nul), id: data.toString("hex", nul + 1, nul + 21) });
    pos = nul + 21;
  }
  return items;
}
