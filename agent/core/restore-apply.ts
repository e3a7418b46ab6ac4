// Applying a restore's plan: never writing outside the root or through a symlink, each file
// appearing whole (temp file + rename, or a folder built under a temporary name and moved in).
import type { Context } from "./context.js";
import type { TimeWriter } from "../platform/system.js";
import type { Refusal, FilePlan, Step } from "./restore-plan.js";
import { byKey } from "./diff.js";
import { parseIdFile } from "../capture/owners.js";
import { parentKey, type Entry } from "../model/manifest.js";
import { escapeBytes } from "../model/escape.js";
import { tmpPrefix } from "./restore-journal.js";

const SLASH = Buffer.from("/");
const isAttributes = (key: string) => key === ".gitattributes" || key.endsWith("/.gitattributes");
/** Files being written at once during a restore: enough to keep every thread busy. */
const MAX_INFLIGHT = 64;
/**
 * From this size a file is written by git itself (one process for it) instead of passing through
 * this process and a writer thread: the copies cost more than the process start.
 */
const LARGE_BYTES = 4 << 20;

export interface FileResult {
  done: Step[];
  failed: Refusal[];
  /** The flush of the content written, started before the metadata is applied. */
  flushed: Promise<void>;
}

/**
 * Applies a plan. Each step either completes or is reported; one failure never stops the others.
 * Times go to `times` (the caller's, started early and closed once every time is handed over).
 */
export async function applyFiles(ctx: Context, plan: FilePlan, times: TimeWriter): Promise<FileResult> {
  const { sys, root, logbook: lb } = ctx;
  // Owners by name where the restored machine knows the name, else by number (read meanwhile).
  const ownersP = nameMaps(ctx, plan);
  const rootBuf = Buffer.from(root === "/" ? "" : root);
  const abs = (p: Buffer) => Buffer.concat([rootBuf, SLASH, p]);
  const result: FileResult = { done: [], failed: [], flushed: Promise.resolve() };
  // Each step is done at most once: a list, not a set (a set hashes every one of thousands of steps).
  const done: Step[] = [];
  const fail = (path: Buffer, e: unknown) => result.failed.push({ path, reason: (e as Error).message.replace(/^[A-Z]+: /, "") });
  let tmpCount = 0;
  const tmpName = (p: Buffer) => {
    const slash = p.lastIndexOf(0x2f);
    return Buffer.concat([slash < 0 ? Buffer.alloc(0) : p.subarray(0, slash + 1), Buffer.from(`${tmpPrefix(sys.pid())}${tmpCount++}`)]);
  };

  // Every folder on the way must be a real folder: never write through a symlink.
  const verified = new Set<string>([""]);
  const checkParents = (p: Buffer) => {
    const parts = p.toString("latin1").split("/");
    let key = "";
    for (let i = 0; i < parts.length - 1; i++) {
      key = key ? `${key}/${parts[i]}` : parts[i];
      if (verified.has(key)) continue;
      const st = sys.lstat(abs(Buffer.from(key, "latin1")));
      if (st?.kind !== "dir") throw new Error(`/${key} is ${st ? `a ${st.kind}` : "missing"} where a folder should be`);
      verified.add(key);
    }
  };
  const removeEntry = (p: Buffer, e: Entry) => {
    const target = abs(p);
    if (e.type === "d") {
      if (!sys.rmdir(target)) throw new Error("folder kept: it holds files the logbook does not record");
    } else if (sys.lstat(target)) sys.unlink(target);
    verified.delete(p.toString("latin1"));
  };

  ctx.log.debug({ steps: plan.steps.length }, "applying");
  const removals = plan.steps.filter((s) => s.action === "remove" || s.action === "replace");
  removals.sort((a, b) => byKey(b, a));
  const replacedOk = new Set<string>();
  for (const s of removals) {
    try {
      checkParents(s.path);
      removeEntry(s.path, s.have!);
      if (s.action === "remove") done.push(s);
      else replacedOk.add(s.key);
    } catch (e) {
      fail(s.path, e);
    }
  }

  const writes = plan.steps.filter((s) => s.action === "create" || s.action === "update" || (s.action === "replace" && replacedOk.has(s.key)));
  const progress = ctx.progress;
  let shown = 0;
  const advance = (files: number) => progress?.update((shown += files));
  progress?.phase("restoring", writes.filter((w) => w.want!.type !== "d").length);

  // A folder this machine lacks is built whole under a temporary name beside it and renamed into
  // place at once: it appears complete, and the files inside need no rename of their own.
  const newDirs = new Set(writes.filter((w) => w.action === "create" && w.want!.type === "d").map((w) => w.key));
  const staged = new Map<string, Buffer>();
  // A folder that appeared since the plan (the environment script's, written meanwhile) is used as it is.
  for (const k of newDirs) {
    if (newDirs.has(parentKey(k))) continue;
    const path = Buffer.from(k, "latin1");
    if (sys.lstat(abs(path))?.kind !== "dir") staged.set(k, tmpName(path));
  }
  // The staged folder a path is in, if any: asked for every path written, remembered per folder.
  const rootOfFolder = new Map<string, string | undefined>();
  const stagedRootOf = (k: string): string | undefined => {
    if (staged.has(k)) return k;
    const folder = parentKey(k);
    if (folder === "") return undefined;
    if (!rootOfFolder.has(folder)) rootOfFolder.set(folder, stagedRootOf(folder));
    return rootOfFolder.get(folder);
  };
  /** Where a path (and its latin1 key) is written now: inside its staged folder, or in place. */
  const at = (p: Buffer, key = p.toString("latin1")): Buffer => {
    const r = stagedRootOf(key);
    return r === undefined ? abs(p) : abs(Buffer.concat([staged.get(r)!, p.subarray(r.length)]));
  };

  const owners = await ownersP;
  const ownerOf = (e: Entry) => ({ mode: e.mode, uid: owners.uid(e), gid: owners.gid(e) });
  /**
   * Gives an entry its recorded owner, then its mode (a chown clears setuid and setgid), leaving
   * alone what `has` (what the file was made with) already matches.
   */
  const ownAndMode = (target: Buffer, e: Entry, has?: { uid: number; gid: number; mode: number }) => {
    const uid = owners.uid(e);
    const gid = owners.gid(e);
    const chown = uid !== has?.uid || gid !== has?.gid;
    if (chown) sys.lchown(target, uid, gid);
    if (e.type !== "l" && (chown || e.mode !== has?.mode)) sys.chmodPath(target, e.mode);
  };
  const placedDirs = new Set<Step>();
  /**
   * Writes an entry under a temporary name (or inside its staged folder), gives it its owner and
   * mode unless `make` did, moves it into place, and hands its time over.
   */
  const place = (s: Step, make: (target: Buffer) => void | Promise<void>, metaDone = false) => async () => {
    const inStaged = stagedRootOf(s.key) !== undefined;
    if (!inStaged) checkParents(s.path);
    const where = at(s.path, s.key);
    const target = inStaged ? where : abs(tmpName(s.path));
    const e = s.want!;
    try {
      await make(target);
      if (!metaDone) ownAndMode(target, e);
      if (!inStaged) sys.move(target, where);
    } catch (err) {
      // What was made is new (a temporary name, or inside a folder that did not exist): a file
      // cut short by a full disk must not stay, let alone be moved into place with its folder.
      if (sys.lstat(target)) sys.unlink(target);
      throw err;
    }
    times.set([{ path: where, mtimeNs: e.mtimeNs }]);
    done.push(s);
  };
  const guarded = async (s: Step, op: () => Promise<void>) => {
    try {
      await op();
    } catch (e) {
      fail(s.path, e);
    }
  };

  // Folders first, parents before children; then links and fifos; regular content streams from git.
  for (const s of writes.filter((w) => w.want!.type === "d")) {
    await guarded(s, async () => {
      const key = s.key;
      if (staged.has(key)) checkParents(s.path);
      if (stagedRootOf(s.key) !== undefined) sys.mkdirOne(at(s.path, s.key), 0o700);
      else {
        checkParents(s.path);
        if (sys.lstat(abs(s.path))?.kind !== "dir") sys.mkdirOne(abs(s.path), 0o700);
        verified.add(key);
      }
      placedDirs.add(s);
    });
  }
  for (const s of writes.filter((w) => w.want!.type === "l" || w.want!.type === "p")) {
    await guarded(s, place(s, (t) => (s.want!.type === "l" ? sys.symlink(s.want!.link!, t) : sys.mkfifo(t, 0o600))));
    advance(1);
  }

  const content = writes.filter((w) => w.want!.type === "f" || w.want!.type === "h");
  const firstNames = new Set(content.filter((w) => w.want!.type === "f").map((w) => w.key));
  // A first name holds REF's file after the restore when it is written now, or is as REF has it.
  const firstInPlace = (s: Step) => {
    const first = s.want!.link!.toString("latin1");
    return firstNames.has(first) || !plan.differing.has(first);
  };
  // git is told where to write through its environment, which carries only text: a folder whose
  // name is not UTF-8 is written by this process.
  const gitWritable = new Map<string, string>();
  for (const [k, tmp] of staged) {
    const where = abs(tmp);
    const text = where.toString("utf8");
    if (Buffer.from(text, "utf8").equals(where)) gitWritable.set(k, text);
  }
  // Content bound for a staged folder is written by git itself, straight from the logbook: a whole
  // work area restored onto an empty place never passes through this process. Attribute files are
  // written with the rest, after git (a .gitattributes could otherwise change what git writes).
  const byFolder = new Map<string, { path: Buffer; blob: string; step: Step }[]>();
  // The rest is fetched here, each content once for all the names that hold it; large files by git.
  const byBlob = new Map<string, Step[]>();
  const large: Step[] = [];
  const linked: Step[] = [];
  // Names that share a file here but hold a file of their own in REF, with the same content.
  const unshared: Step[] = [];
  // Names that share a file in REF whose first name will not hold REF's file.
  const alone: Step[] = [];
  for (const s of content) {
    if (s.want!.type === "f" && !s.blob) {
      unshared.push(s);
      continue;
    }
    // A hard link becomes a link to its first name (written first, or already in place); only
    // content that must be written is fetched.
    if (s.want!.type === "h" && firstInPlace(s)) {
      linked.push(s);
      continue;
    }
    if (s.want!.type === "h") {
      // The file it shares in REF is not REF's (left out of a partial restore, or not restorable):
      // it gets REF's content as a file of its own, and the report says so.
      alone.push(s);
      if (!s.blob) continue;
    }
    const r = stagedRootOf(s.key);
    if (r !== undefined && gitWritable.has(r) && !isAttributes(s.key)) {
      const list = byFolder.get(r);
      const entry = { path: s.path.subarray(r.length + 1), blob: s.blob!, step: s };
      if (list) list.push(entry);
      else byFolder.set(r, [entry]);
      continue;
    }
    if (s.want!.size >= LARGE_BYTES) {
      large.push(s);
      continue;
    }
    const list = byBlob.get(s.blob!);
    if (list) list.push(s);
    else byBlob.set(s.blob!, [s]);
  }
  for (const [r, entries] of byFolder) {
    const watching = progress && watchCheckout(ctx, entries.map((e) => at(e.step.path, e.step.key)), (files) => progress.update(shown + files));
    try {
      await lb.checkoutInto(gitWritable.get(r)!, entries);
    } catch (e) {
      // The folder is new: whatever git wrote before it failed (a disk filling up) goes, none of it
      // is taken for restored.
      for (const { step } of entries) {
        const target = at(step.path, step.key);
        if (sys.lstat(target)) sys.unlink(target);
        fail(step.path, e);
      }
      continue;
    } finally {
      await watching?.();
    }
    advance(entries.length);
    // git gave every file the same owner (this process's) and mode (by its umask): one look tells
    // which files need a chown or chmod at all. Their times go over as they come: the helper
    // setting them works while this loop goes on.
    const top = Buffer.concat([abs(staged.get(r)!), SLASH]);
    const made = sys.lstat(Buffer.concat([top, entries[0].path]));
    for (const { path, step } of entries) {
      const target = Buffer.concat([top, path]);
      try {
        ownAndMode(target, step.want!, made);
        times.set([{ path: target, mtimeNs: step.want!.mtimeNs }]);
        done.push(step);
      } catch (e) {
        fail(step.path, e);
      }
    }
  }
  const ids = [...byBlob.keys()];
  // Files are created by a few threads while git streams the next ones; a bounded number in flight.
  const writer = sys.fileWriter([...byBlob.values()].reduce((n, steps) => n + steps.length, 0));
  const inflight = new Set<Promise<void>>();
  try {
    await lb.streamBlobs(ids, async (i, data) => {
      for (const s of byBlob.get(ids[i])!) {
        const p = guarded(s, place(s, (t) => writer.write(t, data, ownerOf(s.want!)), true));
        inflight.add(p);
        void p.then(() => {
          inflight.delete(p);
          advance(1);
        });
        if (inflight.size >= MAX_INFLIGHT) await Promise.race(inflight);
      }
    });
  } finally {
    await Promise.all(inflight);
    await writer.close();
  }
  for (const s of large) {
    await guarded(s, place(s, (t) => lb.writeBlobTo(s.blob!, t, ownerOf(s.want!)), true));
    advance(1);
  }
  // Before the links: a name linked to one of these shares its new file.
  for (const s of unshared) {
    await guarded(
      s,
      place(s, (t) => {
        const live = abs(s.path);
        if (sys.lstat(live)?.kind !== "file") throw new Error("not the regular file the present snapshot recorded");
        sys.copyFile(live, t);
      }),
    );
    advance(1);
  }
  for (const s of linked) {
    await guarded(s, place(s, (t) => sys.link(at(s.want!.link!), t)));
    advance(1);
  }
  for (const s of alone) {
    if (s.blob && !done.includes(s)) continue;
    fail(s.path, new Error(`${s.blob ? "written" : "kept"} as a file of its own: /${escapeBytes(s.want!.link!)}, whose file it shares in the snapshot, is not restored`));
  }
  progress?.done();
  // The disk takes the content while owners, modes and times are applied: the flush at the end
  // then has little left to write.
  result.flushed = sys.syncFs(root);
  result.flushed.catch(() => undefined);

  // The staged folders take their places, parents before children (a staged folder is never inside
  // another), once the times of what is inside them are set.
  await times.settle();
  for (const [key, tmp] of staged) {
    const path = Buffer.from(key, "latin1");
    try {
      checkParents(path);
      sys.move(abs(tmp), abs(path));
      verified.add(key);
    } catch (e) {
      fail(path, e);
    }
  }
  ctx.log.debug({ done: done.length, folders: placedDirs.size }, "content written");

  // Metadata-only changes of files and links; then every folder the restore touched, deepest first:
  // owners, modes, and times last, as writing inside a folder moves its time.
  const setMeta = (path: Buffer, e: Entry) => {
    const target = abs(path);
    ownAndMode(target, e);
    times.set([{ path: target, mtimeNs: e.mtimeNs }]);
  };
  for (const s of plan.steps.filter((x) => x.action === "metadata" && x.want!.type !== "d")) {
    await guarded(s, async () => {
      setMeta(s.path, s.want!);
      done.push(s);
    });
  }
  const folderSteps = new Map(plan.steps.filter((x) => x.want?.type === "d" && (x.action === "metadata" || placedDirs.has(x))).map((x) => [x.key, x]));
  for (const f of plan.folders) {
    if (sys.lstat(abs(f.path))?.kind !== "dir") continue;
    try {
      setMeta(f.path, f.entry);
      const step = folderSteps.get(f.path.toString("latin1"));
      if (step) done.push(step);
    } catch (e) {
      fail(f.path, e);
    }
  }
  ctx.log.debug("metadata applied");
  result.done = done;
  return result;
}

/** How often the files git is writing are counted for someone watching a restore. */
const COUNT_EVERY_MS = 500;

/**
 * Counts, while git writes them, the files that have appeared (git says nothing until it is done):
 * one listing per folder every half second, each folder's count taken from its listing before git
 * started. Returns the stop.
 */
function watchCheckout(ctx: Context, files: Buffer[], show: (files: number) => void): () => Promise<void> {
  const { sys } = ctx;
  const count = (dir: Buffer) => {
    try {
      return sys.readdir(dir).length;
    } catch {
      return 0;
    }
  };
  const folders = new Map<string, { dir: Buffer; expected: number; before: number }>();
  for (const f of files) {
    const dir = f.subarray(0, f.lastIndexOf(0x2f));
    const key = dir.toString("latin1");
    const seen = folders.get(key);
    if (seen) seen.expected++;
    else folders.set(key, { dir, expected: 1, before: count(dir) });
  }
  const stop = new AbortController();
  const loop = (async () => {
    for (;;) {
      await sys.sleep(COUNT_EVERY_MS, stop.signal);
      if (stop.signal.aborted) return;
      let n = 0;
      for (const f of folders.values()) n += Math.min(f.expected, Math.max(0, count(f.dir) - f.before));
      show(n);
    }
  })();
  return async () => {
    stop.abort();
    await loop;
  };
}

/**
 * Name → id maps of the machine as the restore leaves it: REF's /etc/passwd and group when the
 * restore brings them back, the live ones otherwise.
 */
async function nameMaps(ctx: Context, plan: FilePlan): Promise<{ uid: (e: Entry) => number; gid: (e: Entry) => number }> {
  const { sys, root, logbook: lb } = ctx;
  const names = ["passwd", "group"];
  const steps = names.map((name) => plan.steps.find((s) => s.blob && s.key === `etc/${name}`));
  const restored = await lb.readBlobs(steps.filter((s) => s).map((s) => s!.blob!));
  const [users, groups] = names.map((name, i) => {
    const file = `${root === "/" ? "" : root}/etc/${name}`;
    const text = steps[i] ? restored.shift()?.toString() : sys.exists(file) ? sys.readFile(file).toString() : undefined;
    return new Map([...parseIdFile(text ?? "")].map(([id, n]) => [n, id]));
  });
  return {
    uid: (e) => (e.user && users.has(e.user) ? users.get(e.user)! : e.uid),
    gid: (e) => (e.group && groups.has(e.group) ? groups.get(e.group)! : e.gid),
  };
}
