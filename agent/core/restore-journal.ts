// A restore's journal: what it is doing and where it may leave temporary names, so that a restore
// killed half-way (or a power cut) leaves nothing behind for good and the user learns of it
// (docs/FORMAT.md, "Restore").
import type { Context } from "./context.js";
import { escapeBytes, unescapeBytes } from "../model/escape.js";
import { parentKey, safePath } from "../model/manifest.js";

const HEADER = "#vml-restore-journal 1";

export interface Journal {
  pid: number;
  ref: string;
  before?: string;
  /** Folders (latin1 keys, "" for the root) a temporary name may be made in. */
  folders: string[];
}

const journalFile = (ctx: Context) => `${ctx.logbook.gitDir}/vml-restore-journal`;

/** The prefix of every temporary name a restore by this process makes. */
export const tmpPrefix = (pid: number) => `.vml-restore.${pid}.`;

/** The folders holding these paths (latin1 keys), each once. */
export function foldersOf(keys: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const k of keys) out.add(parentKey(k));
  return [...out];
}

/** Written, flushed, before the live tree is touched. */
export function writeJournal(ctx: Context, j: Journal): void {
  const lines = [HEADER, `pid ${j.pid}`, `ref ${j.ref}`, ...(j.before ? [`before ${j.before}`] : []), ...j.folders.map((k) => `folder ${k === "" ? "." : escapeBytes(Buffer.from(k, "latin1"))}`)];
  ctx.sys.writeFileAtomic(journalFile(ctx), lines.join("\n") + "\n", 0o600);
}

export function removeJournal(ctx: Context): void {
  ctx.sys.remove(journalFile(ctx));
}

function parseJournal(text: string): Journal {
  const lines = text.split("\n");
  if (lines[0] !== HEADER) throw new Error("not a version 1 restore journal");
  const j: Journal = { pid: 0, ref: "", folders: [] };
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const space = line.indexOf(" ");
    const [key, value] = [line.slice(0, space), line.slice(space + 1)];
    const folder = key === "folder" ? (value === "." ? "" : unescapeBytes(value).toString("latin1")) : undefined;
    if (key === "pid" && /^[1-9][0-9]*$/.test(value)) j.pid = Number(value);
    else if (key === "ref" && /^[0-9a-f]{40}$/.test(value)) j.ref = value;
    else if (key === "before" && /^[0-9a-f]{40}$/.test(value)) j.before = value;
    else if (folder !== undefined && (folder === "" || safePath(folder))) j.folders.push(folder);
    else throw new Error(`bad line: ${line}`);
  }
  if (!j.pid || !j.ref) throw new Error("pid or ref missing");
  return j;
}

/**
 * Clears up after a restore that was interrupted: its temporary names and checkout index go, and a
 * warning says what it was. Called under the logbook's lock, which every restore holds from start
 * to end: a journal found then is never a running restore's.
 */
export function clearInterruptedRestore(ctx: Context): void {
  const { sys, log } = ctx;
  const file = journalFile(ctx);
  if (!sys.exists(file)) return;
  let j: Journal;
  try {
    j = parseJournal(sys.readFile(file).toString("latin1"));
  } catch (e) {
    sys.rename(file, `${file}.bad`);
    log.warn({ journal: `${file}.bad` }, `an interrupted restore left a journal that cannot be read (${(e as Error).message}); set aside, its temporary files (.vml-restore.*) may remain`);
    return;
  }
  const rootBuf = Buffer.from(ctx.root === "/" ? "" : ctx.root);
  const prefix = Buffer.from(tmpPrefix(j.pid));
  let removed = 0;
  try {
    for (const key of j.folders) removed += clearFolder(ctx, Buffer.concat([rootBuf, Buffer.from(key ? `/${key}` : "", "latin1")]), prefix);
  } catch (e) {
    // The journal stays: the next command tries again.
    log.warn({ ref: j.ref, before: j.before }, `a restore of ${j.ref} was interrupted (process ${j.pid}) and what it left cannot all be removed yet: ${(e as Error).message}`);
    return;
  }
  sys.remove(ctx.logbook.checkoutIndexFile(j.pid));
  removeJournal(ctx);
  log.warn(
    { ref: j.ref, before: j.before, removed },
    `a restore of ${j.ref} was interrupted (process ${j.pid}): ${removed} temporary name(s) it left were removed; the files it restored stay${j.before ? `; \`vml-agent restore ${j.before}\` brings back the state before it` : ""}, \`vml-agent restore ${j.ref}\` finishes it`,
  );
}

/**
 * A git the interrupted restore started may still be writing inside a staged folder (a killed
 * process's children live on): it works from inside that folder, so once the folder is gone it
 * cannot make anything more there. Until then, its removal is tried again.
 */
const WRITER_PATIENCE_MS = 2_000;

/** Removes the names with this prefix in a folder; how many. */
function clearFolder(ctx: Context, folder: Buffer, prefix: Buffer): number {
  const { sys } = ctx;
  const at = folder.length ? folder : Buffer.from("/");
  // A path that is no folder now (gone, or a symlink) holds nothing of ours.
  if (sys.lstat(at)?.kind !== "dir") return 0;
  let removed = 0;
  for (const name of sys.readdir(at)) {
    if (name.length <= prefix.length || !name.subarray(0, prefix.length).equals(prefix)) continue;
    sys.remove(Buffer.concat([folder, Buffer.from("/"), name]), WRITER_PATIENCE_MS);
    removed++;
  }
  return removed;
}
