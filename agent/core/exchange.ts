// Moving snapshots between machines as one self-describing file (docs/FORMAT.md, "Export file").
// The file holds REF and its history since REF0 with the same snapshot ids; the base content the
// receiver is expected to have already is left out and rebuilt there from identical local files.
import type { Context } from "./context.js";
import type { System } from "../platform/system.js";
import { saysDiskFull, VmlError } from "./errors.js";
import { LINE_PREFIX, ZERO_ID, type Logbook } from "./logbook.js";
import { escapeBytes } from "../model/escape.js";
import { objectId } from "../model/git-object.js";
import { TreeReader } from "./tree.js";

const MAGIC = "VML-EXPORT 1\n";
const TRAILER = "VML-SHA256 ";
const MAX_HEADER = 1 << 20;
/** Digits kept for the pack's size in the header: written before the pack, completed after it. */
const SIZE_SLOT = 16;

export interface ExportHeader {
  format: 1;
  created: string;
  agent: string;
  ref: string;
  from: string;
  line: string;
  base: string;
  /** Oldest first, from `from` to `ref`. */
  snapshots: string[];
  /** Whether the trees and metadata of `from` are included (the receiver need not hold it). */
  skeleton: boolean;
  /** `from` has a parent the receiver will not have: it becomes the first of a shallow line. */
  shallow: boolean;
  pack: { bytes: number; objects: number };
}

export interface ExportOptions {
  ref: string;
  from: string;
  line: string;
  thin: boolean;
}

async function objectList(lb: Logbook, args: string[]): Promise<string[]> {
  return (await lb.gitText(["rev-list", "--objects", ...args])).split("\n").filter(Boolean).map((l) => l.slice(0, 40));
}

/**
 * Writes the export to `file` (whole or not at all: a file beside it, flushed, then renamed). The
 * pack goes from git straight to that file; the header's pack size is filled in once it is known
 * (spaces pad it: JSON allows them), and the checksum read back from the file: memory stays small
 * whatever the export's size.
 */
export async function exportSnapshots(ctx: Context, o: ExportOptions, file: string): Promise<{ bytes: number; header: ExportHeader }> {
  const { sys, logbook: lb } = ctx;
  if (o.ref !== o.from && (await lb.run(["merge-base", "--is-ancestor", o.from, o.ref])).code !== 0) {
    throw new VmlError("USAGE", "--from must name an earlier snapshot of REF's history");
  }
  const ids = new Set(await objectList(lb, [o.ref, `^${o.from}`]));
  ids.add(o.from);
  if (!o.thin) {
    // The skeleton of REF0: every tree, and the metadata records that no local file can rebuild.
    const out = await lb.git(["ls-tree", "-r", "-t", "-z", "--full-tree", o.from]);
    for (const rec of out.toString("latin1").split("\0")) {
      if (!rec) continue;
      const tab = rec.indexOf("\t");
      const [, type, id] = rec.slice(0, tab).split(" ");
      if (type === "tree" || rec.slice(tab + 1).startsWith(".vml/")) ids.add(id);
    }
    ids.add((await lb.gitText(["rev-parse", `${o.from}^{tree}`])).trim());
  }
  const snapshots = (await lb.gitText(["rev-list", "--reverse", o.ref, `^${o.from}`])).split("\n").filter(Boolean);
  const parent = (await lb.gitText(["log", "-1", "--format=%P", o.from])).trim();
  const base = (await lb.gitText(["log", "-1", "--format=%(trailers:key=Vml-Base,valueonly,separator=)", o.ref])).trim();
  const header: ExportHeader = {
    format: 1,
    created: sys.now().toISOString(),
    agent: `vml-agent ${ctx.agentVersion}`,
    ref: o.ref,
    from: o.from,
    line: o.line,
    base,
    snapshots: [o.from, ...snapshots],
    skeleton: !o.thin,
    shallow: parent !== "",
    pack: { objects: ids.size, bytes: 0 },
  };
  // The pack's size is the header's last value: `..."bytes":0}}`.
  const json = JSON.stringify(header);
  const head = `${MAGIC}${json.slice(0, -3)}${" ".repeat(SIZE_SLOT)}}}\n`;
  const slot = Buffer.byteLength(head) - SIZE_SLOT - 3;
  const tmp = `${file}.tmp-${sys.pid()}`;
  try {
    sys.writeFile(tmp, head, 0o600);
    const packed = await lb.run(["pack-objects", "--stdout", "-q", "--delta-base-offset"], { input: [...ids].join("\n") + "\n", stdoutFile: { path: tmp } });
    if (packed.code !== 0) throw new Error(packed.stderr.trim().split("\n").pop() || "git pack-objects failed");
    const end = sys.readRange(tmp, 0, 0).size;
    header.pack.bytes = end - Buffer.byteLength(head);
    sys.writeAt(tmp, slot, Buffer.from(String(header.pack.bytes).padStart(SIZE_SLOT)));
    sys.appendFile(tmp, `${TRAILER}${await sys.hashFile(tmp, 0, end)}\n`);
    await sys.flushFiles([tmp]);
    sys.rename(tmp, file);
    await sys.flushFiles([file]);
    return { bytes: end + TRAILER.length + 65, header };
  } catch (e) {
    sys.remove(tmp);
    const why = (e as Error).message;
    if (saysDiskFull(why)) throw new VmlError("DISK_FULL", `cannot write ${file}: no space left on its disk; nothing was written`);
    throw new VmlError("BAD_INPUT", `cannot write ${file}: ${why}`);
  }
}

function refuse(why: string): VmlError {
  return new VmlError("BAD_INPUT", `not a usable VML export: ${why}`);
}

/** Where an export's pack lies in its file: bytes [start, end). */
interface PackRange {
  path: string;
  start: number;
  end: number;
}

/** Checks a file is an intact VML export before anything of it is used (read in parts, never whole). */
export async function readExport(sys: System, file: string): Promise<{ header: ExportHeader; pack: PackRange }> {
  let first: Buffer;
  let size: number;
  try {
    ({ data: first, size } = sys.readRange(file, 0, MAGIC.length + MAX_HEADER + 1));
  } catch (e) {
    throw new VmlError("BAD_INPUT", `cannot read ${file}: ${(e as Error).message}`);
  }
  if (!first.subarray(0, MAGIC.length).equals(Buffer.from(MAGIC))) {
    if (first.subarray(0, 11).toString() === "VML-EXPORT ") throw refuse(`format ${first.subarray(11, 20).toString().split("\n")[0]} is not known to this agent (it reads 1)`);
    throw refuse("it does not start like one");
  }
  const tailLength = TRAILER.length + 65;
  const bodyEnd = size - tailLength;
  const tail = bodyEnd >= MAGIC.length ? sys.readRange(file, bodyEnd, tailLength).data : Buffer.alloc(0);
  if (!tail.subarray(0, TRAILER.length).equals(Buffer.from(TRAILER)) || tail[tailLength - 1] !== 0x0a) throw refuse("it is truncated (no checksum at its end)");
  if ((await sys.hashFile(file, 0, bodyEnd)) !== tail.subarray(TRAILER.length, tailLength - 1).toString()) {
    throw refuse("its checksum does not match (the file is damaged)");
  }
  const nl = first.indexOf(0x0a, MAGIC.length);
  if (nl < 0 || nl >= bodyEnd) throw refuse("its header is unreadable");
  let header: ExportHeader;
  try {
    header = JSON.parse(first.subarray(MAGIC.length, nl).toString());
  } catch {
    throw refuse("its header is not JSON");
  }
  const id = /^[0-9a-f]{40}$/;
  if (
    header.format !== 1 ||
    !id.test(header.ref) ||
    !id.test(header.from) ||
    !Array.isArray(header.snapshots) ||
    !header.snapshots.every((s) => typeof s === "string" && id.test(s)) ||
    header.snapshots[0] !== header.from ||
    header.snapshots[header.snapshots.length - 1] !== header.ref ||
    typeof header.line !== "string" ||
    header.pack?.bytes !== bodyEnd - nl - 1
  ) {
    throw refuse("its header does not describe its content");
  }
  return { header, pack: { path: file, start: nl + 1, end: bodyEnd } };
}

export interface ImportResult {
  header: ExportHeader;
  line: string;
  rebuilt: number;
  /** Paths whose base content this machine does not have: restoring them is reported, not done. */
  missing: Buffer[];
}

/**
 * Adds an export's snapshots to this logbook as line `as` (default: the exporter's line, prefixed
 * imported-), never touching the live tree. Objects go to a quarantine first; only when everything
 * checks out do they join the logbook.
 */
export async function importSnapshots(ctx: Context, file: string, as?: string): Promise<ImportResult> {
  const { sys, logbook: lb } = ctx;
  const { header, pack } = await readExport(sys, file);
  const name = as ?? `imported-${/^[A-Za-z0-9._-]+$/.test(header.line) ? header.line : "snapshots"}`;
  // Importing onto an existing line is allowed when it continues that line (a later export of it).
  const tip = await lb.revParse(`${LINE_PREFIX}${name}`);
  if (tip && tip !== header.from && !header.snapshots.includes(tip)) {
    throw new VmlError("USAGE", `line "${name}" exists and this export does not continue it (choose another name with --as)`);
  }
  const quarantine = `${lb.gitDir}/vml-import`;
  sys.remove(quarantine);
  sys.mkdir(`${quarantine}/pack`, 0o700);
  const env = { GIT_OBJECT_DIRECTORY: quarantine, GIT_ALTERNATE_OBJECT_DIRECTORIES: `${lb.gitDir}/objects` };
  try {
    // Every object checked for well-formedness; links to base content are checked (and rebuilt) below.
    const idx = await lb.run(["index-pack", "--stdin", "--fsck-objects"], { inputFile: pack, env });
    if (idx.code !== 0) throw refuse(`its pack does not unpack (${idx.stderr.trim().split("\n").pop()})`);
    // It is what it claims: the snapshots named are there, in that order, each a VML snapshot.
    const chain = await lb.run(["rev-list", "--reverse", header.ref, `^${header.from}`], { env });
    if (chain.code !== 0 || chain.stdout.toString().split("\n").filter(Boolean).join(",") !== header.snapshots.slice(1).join(",")) {
      throw refuse("its snapshots are not the ones its header names");
    }
    const bodies = await lb.readBlobs(header.snapshots.map((s) => `${s}^{commit}`), env);
    header.snapshots.forEach((s, i) => {
      if (!bodies[i] || !/^Vml-Trigger: /m.test(bodies[i].toString())) throw refuse(`${s.slice(0, 12)} is not a VML snapshot`);
    });
    const { rebuilt, missing } = await rebuildBase(ctx, header, env);
    // Accepted: the objects join the logbook, then the line appears (all or nothing for the user).
    if (header.shallow) sys.writeFileAtomic(`${lb.gitDir}/shallow`, mergeShallow(sys.exists(`${lb.gitDir}/shallow`) ? sys.readFile(`${lb.gitDir}/shallow`).toString() : "", header.from), 0o600);
    for (const f of sys.listFiles(quarantine)) sys.rename(f, `${lb.gitDir}/objects/${f.slice(quarantine.length + 1)}`);
    await lb.flushObjects(true);
    await lb.moveRef(`${LINE_PREFIX}${name}`, header.ref, tip ?? ZERO_ID, "vml import");
    if (missing.length) recordMissing(ctx, header.ref, missing);
    return { header, line: name, rebuilt, missing };
  } finally {
    sys.remove(quarantine);
  }
}

function mergeShallow(text: string, id: string): string {
  const ids = new Set(text.split("\n").filter(Boolean));
  ids.add(id);
  return [...ids].join("\n") + "\n";
}

/**
 * Base content the export left out: found in this logbook already, or rebuilt from the local file at
 * the same path when its content hashes the same. Whatever is left is named, path by path.
 */
async function rebuildBase(ctx: Context, header: ExportHeader, env: Record<string, string>): Promise<{ rebuilt: number; missing: Buffer[] }> {
  const { sys, logbook: lb, root } = ctx;
  const thinRefusal = () =>
    refuse(`it was made for a logbook that holds snapshot ${header.from.slice(0, 12)} (export --thin), and this one does not; ask for an export without --thin`);
  // Walked from the snapshots' trees: the first snapshot's parent need not be here.
  const trees = (await lb.run(["rev-parse", ...header.snapshots.map((s) => `${s}^{tree}`)], { env })).stdout.toString().split("\n").filter(Boolean);
  const out = await lb.run(["rev-list", "--objects", "--missing=print", ...trees], { env });
  if (out.code !== 0) throw thinRefusal();
  const missingIds = new Set(
    out.stdout
      .toString("latin1")
      .split("\n")
      .filter((l) => l.startsWith("?"))
      .map((l) => l.slice(1, 41)),
  );
  if (!missingIds.size) return { rebuilt: 0, missing: [] };
  // Where each missing blob is used: every path of every snapshot that names it. A folder met again
  // at the same path with the same tree (most of them, from one snapshot to the next) is not walked again.
  const wanted = new Map<string, Map<string, Buffer>>();
  const reader = new TreeReader(lb, env);
  const seen = new Set<string>();
  let level = [...new Set(trees)].map((id) => ({ prefix: "", id }));
  try {
    while (level.length) {
      const next: { prefix: string; id: string }[] = [];
      await reader.load(level.map((t) => t.id));
      for (const { prefix, id: tree } of level) {
        for (const e of reader.items(tree)) {
          const key = prefix + e.name;
          if (e.mode === "40000") {
            const visit = `${e.id}\0${key}`;
            if (!seen.has(visit)) {
              seen.add(visit);
              next.push({ prefix: `${key}/`, id: e.id });
            }
            continue;
          }
          if (!missingIds.has(e.id)) continue;
          // By path: many names of one content (empty files) are common.
          let paths = wanted.get(e.id);
          if (!paths) wanted.set(e.id, (paths = new Map()));
          if (!paths.has(key)) paths.set(key, Buffer.from(key, "latin1"));
        }
      }
      level = next;
    }
  } catch (e) {
    if (e instanceof VmlError && e.code === "GIT_FAILED") throw thinRefusal();
    throw e;
  }
  // Only file content can be rebuilt from local files; a missing folder structure cannot.
  if ([...missingIds].some((id) => !wanted.has(id))) throw thinRefusal();
  const rootBuf = Buffer.from(root === "/" ? "" : root);
  let rebuilt = 0;
  const missing: Buffer[] = [];
  for (const [id, byKey] of wanted) {
    const paths = [...byKey.values()];
    const local = paths.find((p) => {
      const abs = Buffer.concat([rootBuf, Buffer.from("/"), p]);
      if (sys.lstat(abs)?.kind !== "file") return false;
      const content = sys.readFile(abs);
      if (objectId("blob", content) !== id) return false;
      // Written by this process (one git process per file took minutes for a work area): every
      // check of the export is behind us, and the import's one flush puts them on disk with the rest.
      lb.writeObjects("blob", [content]);
      return true;
    });
    if (local) rebuilt++;
    else missing.push(...paths);
  }
  missing.sort(Buffer.compare);
  return { rebuilt, missing };
}

function recordMissing(ctx: Context, ref: string, missing: Buffer[]): void {
  ctx.sys.mkdir(`${ctx.logbook.gitDir}/vml-missing`, 0o700);
  ctx.sys.writeFileAtomic(`${ctx.logbook.gitDir}/vml-missing/${ref}`, missing.map(escapeBytes).join("\n") + "\n", 0o600);
}
