// The logbook: a git repository at ROOT/var/lib/vml/logbook whose work tree is the guest root itself.
// Native git does the work, run through System.exec: byte-exact stdin/stdout (paths with any bytes)
// and an environment that pins git to the logbook's own configuration.
import { deflateSync, inflateSync } from "node:zlib";
import { saysDiskFull, VmlError } from "./errors.js";
import { unescapeBytes } from "../model/escape.js";
import type { BytePath, Conversation, ExecOptions, ExecResult, System } from "../platform/system.js";
import type { FileMeta } from "../platform/writers.js";
import type { Logger } from "../platform/log.js";
import { objectBytes, objectId, parseObject, renderCommit, type CommitFields, type ObjectType } from "../model/git-object.js";
import { parseScanCache, renderScanCache, type ScanCache } from "../capture/scan-cache.js";

export const LOGBOOK_PATH = "/var/lib/vml/logbook";
export const LINE_PREFIX = "refs/heads/";
export const BASE_REF = "refs/vml/base";
/** git's name for no object: the old value of a ref being created, a side of a difference without content. */
export const ZERO_ID = "0".repeat(40);

/** Durability and byte-exactness settings, applied at init (docs/FORMAT.md, "Repository"). */
const REPO_CONFIG: [string, string][] = [
  // Refs and the index are flushed by git as it writes them; objects are flushed all at once by
  // one syncfs before the ref that publishes them moves (per-object fsync is 5x slower on ext4).
  ["core.fsync", "reference,index"],
  ["core.fsyncMethod", "fsync"],
  ["core.quotePath", "false"],
  ["core.autocrlf", "false"],
  ["core.filemode", "true"],
  ["core.symlinks", "true"],
  ["core.logAllRefUpdates", "always"],
  ["gc.auto", "0"],
  ["vml.format", "1"],
];

/**
 * Settings every logbook's git runs with, old logbooks too (given in the environment, not the config).
 */
const GIT_SETTINGS: Record<string, string> = {
  // Loose objects stored as they are: deflating a changed 60 MB ROOT file (compressed already)
  // cost a second in every snapshot of it. Packing (the daemon's schedule, a commit that finds too
  // many loose objects) compresses them.
  "core.looseCompression": "0",
  // A snapshot has git write the index twice (update-index, write-tree), and the index holds every
  // recorded file (2 MB for 20,000): split, each write is the few entries that changed, and the
  // whole is rewritten only once a fifth of it has. An index read or written keeps its shared part
  // fresh, so an hour is ample before one no index uses is removed.
  "core.splitIndex": "true",
  "splitIndex.sharedIndexExpire": "1.hour.ago",
};

/** git's configuration given through its environment (GIT_CONFIG_COUNT), outranking the config files. */
function configEnv(settings: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  Object.entries(settings).forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return { ...env, GIT_CONFIG_COUNT: String(Object.keys(settings).length) };
}

/**
 * `info/attributes` outranks every `.gitattributes` in the work tree: without it, a guest's own
 * repository checkout with `text`, `eol` or `ident` attributes would have git rewrite line ends or
 * keyword lines of the content it stores, and the restore would not give back the bytes that were
 * there (docs/FORMAT.md, "Repository").
 */
const ATTRIBUTES_FILE = "info/attributes";
const ATTRIBUTES = "* -text -crlf -eol -ident -filter -working-tree-encoding\n";

/** Name prefix (then a process id) of the indexes a snapshot packs content through besides the logbook's. */
const SCRATCH_INDEX = "vml-pack-index.";

/** Loose objects beyond which housekeeping packs them (git's own default). */
const GC_AUTO_LOOSE = 6700;

export class Logbook {
  readonly gitDir: string;
  private readonly env: Record<string, string>;
  /** Objects written (or found) by writeObjects and not flushed yet. */
  private readonly unflushed = new Set<string>();
  /** Kept-open `git update-ref --stdin` processes by reflog message (see keepOpen), while they last. */
  private refMovers?: Map<string, Conversation>;

  constructor(
    readonly sys: System,
    readonly root: string,
    private readonly log?: Logger,
  ) {
    this.gitDir = `${root === "/" ? "" : root}${LOGBOOK_PATH}`;
    const base = sys.env();
    this.env = {
      PATH: base.PATH ?? "/usr/bin:/bin",
      HOME: base.HOME ?? "/",
      LC_ALL: "C",
      GIT_DIR: this.gitDir,
      GIT_WORK_TREE: root,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_TERMINAL_PROMPT: "0",
      ...configEnv(GIT_SETTINGS),
      // git's indexing frees and re-grows its heap per file; without this glibc hands memory back
      // to the kernel each time and indexing a large tree is several times slower.
      MALLOC_TRIM_THRESHOLD_: String(256 * 1024 * 1024),
      MALLOC_TOP_PAD_: String(64 * 1024 * 1024),
    };
  }

  exists(): boolean {
    return this.sys.exists(`${this.gitDir}/HEAD`);
  }

  requireExists(): void {
    if (!this.exists()) {
      throw new VmlError("NO_LOGBOOK", `no logbook at ${this.gitDir}: run \`vml-agent --root ${this.root} init\` first`);
    }
  }

  /** Runs native git in the logbook's environment and returns what it said, whatever its exit. */
  async run(args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const started = this.sys.now().getTime();
    const res = await this.sys.exec("git", args, { ...opts, env: { ...this.env, ...opts.env } });
    this.log?.debug({ git: args[0], code: res.code, ms: this.sys.now().getTime() - started }, "git");
    return res;
  }

  /** Runs native git; a non-zero exit becomes GIT_FAILED with git's own first line of complaint. */
  async git(args: string[], opts: ExecOptions & { allowFail?: boolean } = {}): Promise<Buffer> {
    const res = await this.run(args, opts);
    if (res.code !== 0 && !opts.allowFail) {
      const sub = args.find((a, i) => !a.startsWith("-") && args[i - 1] !== "-c") ?? "git";
      throw this.failure(sub, res.stderr, `exit ${res.code}`);
    }
    return res.code === 0 ? res.stdout : Buffer.alloc(0);
  }

  /** What a git command that failed, saying this on stderr, is to the user: its last line of complaint. */
  private failure(sub: string, stderr: string, otherwise: string): VmlError {
    if (saysDiskFull(stderr)) return this.diskFull();
    return new VmlError("GIT_FAILED", `git ${sub} failed: ${stderr.trim().split("\n").filter(Boolean).pop() ?? otherwise}`);
  }

  private diskFull(): VmlError {
    return new VmlError("DISK_FULL", `no space left on the disk that holds ${this.gitDir}: nothing was recorded; free some space and run it again`);
  }

  /**
   * For a logbook used for a long time (the daemon's): refs move through git processes kept open,
   * not one started per move. Until close().
   */
  keepOpen(): void {
    this.refMovers ??= new Map();
  }

  /** Lets the kept processes end; later moves start one each again. */
  close(): void {
    for (const c of this.refMovers?.values() ?? []) c.end();
    this.refMovers = undefined;
  }

  /**
   * Moves `ref` to `to` if it is still at `from` (ZERO_ID: if it does not exist yet), as git's
   * update-ref does, with this reflog message; GIT_FAILED when it moved meanwhile.
   */
  async moveRef(ref: string, to: string, from: string, message: string): Promise<void> {
    if (!this.refMovers) {
      await this.git(["update-ref", "-m", message, ref, to, from]);
      return;
    }
    let mover = this.refMovers.get(message);
    // One that ended while idle (killed, git gone) is replaced before anything is asked of it.
    if (!mover || mover.ended()) {
      mover = this.sys.converse("git", ["update-ref", "-m", message, "-z", "--stdin"], this.env);
      this.refMovers.set(message, mover);
    }
    const started = this.sys.now().getTime();
    try {
      // A transaction of its own: git takes the ref's lock at prepare and lets it go at commit.
      await mover.ask(`start\0update ${ref}\0${to}\0${from}\0prepare\0commit\0`, 3);
    } catch (e) {
      // git ends a transaction that failed and itself with it: the next move starts another.
      this.refMovers.delete(message);
      throw this.failure("update-ref", (e as Error).message, "ended");
    } finally {
      this.log?.debug({ git: "update-ref", kept: true, ms: this.sys.now().getTime() - started }, "git");
    }
  }

  async gitText(args: string[], opts: ExecOptions = {}): Promise<string> {
    return (await this.git(args, opts)).toString().trim();
  }

  async create(line: string): Promise<void> {
    // 0700 before git writes anything: the logbook holds copies of /etc/shadow and users' keys.
    this.sys.mkdir(this.gitDir, 0o700);
    this.sys.chmod(this.gitDir, 0o700);
    await this.git(["init", "--quiet", `--initial-branch=${line}`]);
    for (const [k, v] of REPO_CONFIG) await this.git(["config", k, v]);
    this.ensureRawContent();
  }

  /**
   * Makes git store content as it is on disk (ATTRIBUTES_FILE). True when the file had to be
   * written: a logbook made before it may hold rewritten content, and its index vouches for it.
   */
  ensureRawContent(): boolean {
    const file = `${this.gitDir}/${ATTRIBUTES_FILE}`;
    if (this.readOwn(ATTRIBUTES_FILE)?.toString() === ATTRIBUTES) return false;
    this.sys.mkdir(`${this.gitDir}/info`, 0o755);
    this.sys.writeFileAtomic(file, ATTRIBUTES, 0o644);
    return true;
  }

  async revParse(spec: string): Promise<string | undefined> {
    const out = await this.git(["rev-parse", "--verify", "--quiet", "--end-of-options", spec], { allowFail: true });
    const id = out.toString().trim();
    return id === "" ? undefined : id;
  }

  async currentLine(): Promise<string> {
    const ref = await this.gitText(["symbolic-ref", "HEAD"]);
    return ref.startsWith(LINE_PREFIX) ? ref.slice(LINE_PREFIX.length) : ref;
  }

  /**
   * Reads many objects through one `git cat-file --batch`; missing ones come back undefined. `env`
   * for objects kept apart (an import's quarantine).
   */
  async readBlobs(specs: string[], env?: Record<string, string>): Promise<(Buffer | undefined)[]> {
    if (!specs.length) return [];
    const out = await this.git(["cat-file", "--batch"], { input: specs.join("\n") + "\n", env });
    const res: (Buffer | undefined)[] = [];
    let pos = 0;
    for (let i = 0; i < specs.length; i++) {
      const nl = out.indexOf(0x0a, pos);
      const head = out.subarray(pos, nl).toString();
      pos = nl + 1;
      if (head.endsWith(" missing") || head.endsWith(" ambiguous")) {
        res.push(undefined);
        continue;
      }
      const size = Number(head.split(" ")[2]);
      res.push(out.subarray(pos, pos + size));
      pos += size + 1;
    }
    return res;
  }

  /**
   * Writes objects loose (zlib-deflated at objects/XX/YYYY…), the format every git reads: a
   * snapshot's few small records and its commit without a git process each. Unflushed, they wait
   * for the snapshot's one flush before the ref moves; `flush` puts each on disk at once, as git's
   * own loose-object fsync does (docs/FORMAT.md, "Write ordering").
   */
  writeObjects(type: ObjectType, contents: Buffer[], flush = false): string[] {
    return contents.map((data) => {
      const id = objectId(type, data);
      const file = `${this.gitDir}/objects/${id.slice(0, 2)}/${id.slice(2)}`;
      // One already there may be one an interrupted snapshot wrote and never flushed: flushed too.
      if (!flush) this.unflushed.add(file);
      if (this.sys.exists(file)) return id;
      // Level 1, git's own for loose objects (core.looseCompression): they are repacked later anyway.
      const deflated = deflateSync(objectBytes(type, data), { level: 1 });
      const write = () => this.sys.writeFileAtomic(file, deflated, 0o444, flush);
      try {
        try {
          write();
        } catch (e) {
          // Its folder is made on the first object that needs it (git's prune removes empty ones).
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
          this.sys.mkdir(`${this.gitDir}/objects/${id.slice(0, 2)}`, 0o755);
          write();
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOSPC" || code === "EDQUOT") throw this.diskFull();
        throw e;
      }
      return id;
    });
  }

  /**
   * Puts objects on disk before a ref names them: `all` (git wrote some), the whole file system at
   * once; else only those writeObjects wrote or found since the last flush, file by file.
   */
  async flushObjects(all: boolean): Promise<void> {
    const files = [...this.unflushed];
    this.unflushed.clear();
    await (all ? this.sys.syncFs(`${this.gitDir}/objects`) : this.sys.flushFiles(files));
  }

  /** Writes a commit object (see writeObjects); its id. */
  writeCommit(fields: CommitFields, flush = false): string {
    return this.writeObjects("commit", [renderCommit(fields)], flush)[0];
  }

  /**
   * The commit HEAD names, read from git's files where they say it plainly (a loose or packed ref):
   * null before the first snapshot, undefined when git must be asked.
   */
  headId(): string | null | undefined {
    const head = this.readOwn("HEAD")?.toString().trim();
    if (head === undefined) return undefined;
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    if (!head.startsWith("ref: refs/")) return undefined;
    const ref = head.slice("ref: ".length);
    const loose = this.readOwn(ref)?.toString().trim();
    if (loose !== undefined) return /^[0-9a-f]{40}$/.test(loose) ? loose : undefined;
    const packed = this.readOwn("packed-refs")?.toString() ?? "";
    const line = packed.split("\n").find((l) => l.endsWith(` ${ref}`));
    return line ? line.slice(0, 40) : null;
  }

  /** An object's data when it is stored loose and of this type; undefined otherwise (git can still read it). */
  readLooseObject(id: string, type: ObjectType): Buffer | undefined {
    const stored = this.readOwn(`objects/${id.slice(0, 2)}/${id.slice(2)}`);
    if (!stored) return undefined;
    try {
      return parseObject(type, inflateSync(stored));
    } catch {
      return undefined;
    }
  }

  /** A file of the logbook's own, or undefined when there is none (or it went while we looked). */
  private readOwn(name: string): Buffer | undefined {
    try {
      return this.sys.readFile(`${this.gitDir}/${name}`);
    } catch {
      return undefined;
    }
  }

  /**
   * Brings the index back to the line's latest snapshot (empty before the first), keeping the stat
   * of every entry that matches it: what a snapshot was not finishing, or what a git command run by
   * hand put there, is gone, and unchanged files are not read again. `--reset`, not `-m`: -m
   * refuses an entry that differs from HEAD when its file changed since. The scan cache, which
   * described the index as it was, goes with it.
   */
  async resetIndex(): Promise<void> {
    this.dropScanCache();
    await this.git(this.headId() === null ? ["read-tree", "--empty"] : ["read-tree", "--reset", "HEAD"]);
  }

  /** The index file's identity: git replaces the file whenever it writes it. */
  indexStamp(): string | undefined {
    const st = this.sys.lstat(`${this.gitDir}/index`);
    return st && `${st.ino}.${st.size}.${st.mtimeNs}.${st.ctimeNs}`;
  }

  private get scanCacheFile(): string {
    return `${this.gitDir}/vml-scan-cache`;
  }

  /**
   * What the last scan learnt about each folder whose files the index holds (docs/FORMAT.md, "Scan
   * cache"). A cache, never the truth: absent, unreadable or made under another key means every
   * folder is read.
   */
  readScanCache(key: string): ScanCache {
    return parseScanCache(this.sys.exists(this.scanCacheFile) ? this.sys.readFile(this.scanCacheFile).toString("latin1") : "", key);
  }

  writeScanCache(cache: ScanCache): void {
    // A cache: a torn write only means every folder is read once more.
    this.sys.writeFile(`${this.scanCacheFile}.tmp`, Buffer.from(renderScanCache(cache), "latin1"), 0o600);
    this.sys.rename(`${this.scanCacheFile}.tmp`, this.scanCacheFile);
  }

  dropScanCache(): void {
    this.sys.remove(this.scanCacheFile);
  }

  /** What imports recorded as missing here: snapshot id → paths (relative, raw bytes). */
  missingContent(): [string, Buffer[]][] {
    const dir = `${this.gitDir}/vml-missing`;
    return this.sys.listFiles(dir).map((f) => [f.slice(dir.length + 1), this.sys.readFile(f).toString().split("\n").filter(Boolean).map(unescapeBytes)]);
  }

  /** Whether an import left content out (base content this machine lacked): only then can blobs be absent. */
  hasMissingContent(): boolean {
    return this.sys.listFiles(`${this.gitDir}/vml-missing`).length > 0;
  }

  /**
   * Writes a blob as a new file (see ExecOptions.stdoutFile): git writes the content itself, so a
   * large file never passes through this process. A failure is the file's, not the logbook's: it
   * says why as a file write would (a full disk is the restored file's disk).
   */
  async writeBlobTo(blob: string, path: BytePath, meta: FileMeta): Promise<void> {
    const res = await this.run(["cat-file", "blob", blob], { stdoutFile: { path, create: meta } });
    if (res.code !== 0) throw new Error(saysDiskFull(res.stderr) ? "no space left on device" : (res.stderr.trim().split("\n").pop() ?? `git cat-file: exit ${res.code}`));
  }

  /**
   * Writes blobs as new files below `dir`, a folder that is new and the restore's own: git streams
   * the content itself. Through an index of its own (the logbook's stays as it is), and with no
   * attributes anywhere git looks (the folder holds none yet), so content is written as stored.
   */
  /** The index file a restore by process `pid` has git check content out through. */
  checkoutIndexFile(pid: number): string {
    return `${this.gitDir}/vml-checkout-index.${pid}`;
  }

  /** git's environment for an index of a command's own; not split: a shared part would outlive it. */
  private scratchIndexEnv(file: string): Record<string, string> {
    return { GIT_INDEX_FILE: file, ...configEnv({ ...GIT_SETTINGS, "core.splitIndex": "false" }) };
  }

  /**
   * Runs `fn` with the environment of an index of this process's own, beside the logbook's (which
   * takes one writer at a time), removed afterwards; one a killed process left is removed when its
   * lock is recovered (removeScratchIndexes).
   */
  async withScratchIndex<T>(fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
    const file = `${this.gitDir}/${SCRATCH_INDEX}${this.sys.pid()}`;
    try {
      return await fn(this.scratchIndexEnv(file));
    } finally {
      this.sys.remove(file);
    }
  }

  removeScratchIndexes(): void {
    for (const name of this.sys.readdir(this.gitDir)) if (name.toString("latin1").startsWith(SCRATCH_INDEX)) this.sys.remove(`${this.gitDir}/${name.toString("latin1")}`);
  }

  async checkoutInto(dir: string, entries: { path: Buffer; blob: string }[]): Promise<void> {
    const file = this.checkoutIndexFile(this.sys.pid());
    const env = { ...this.scratchIndexEnv(file), GIT_WORK_TREE: dir };
    // "100644 <id>\t<path>\0" per entry, in one buffer: a whole work area's worth of lines.
    const line = "100644 ".length + 40 + 1;
    const input = Buffer.allocUnsafe(entries.reduce((n, e) => n + line + e.path.length + 1, 0));
    let at = 0;
    for (const e of entries) {
      at += input.write(`100644 ${e.blob}\t`, at, "latin1");
      at += e.path.copy(input, at);
      input[at++] = 0;
    }
    try {
      await this.git(["update-index", "-z", "--index-info"], { env, input });
      // Creating files is kernel work that waits on the disk as much as on a processor: two workers
      // per core keep both busy (measured faster than one per core, never slower).
      await this.git(["-c", `checkout.workers=${2 * this.sys.cores()}`, "checkout-index", "--all", "--force"], { env });
    } finally {
      this.sys.remove(file);
    }
  }

  /**
   * git's garbage collection, with every pack it writes flushed before what the pack replaces is
   * deleted (the logbook's own setting leaves objects to one syncfs per snapshot, which gc has not).
   * `auto`: only when git finds thousands of loose objects, in the foreground.
   */
  async gc(mode: "auto" | "prune-now"): Promise<void> {
    const fsync = ["-c", "core.fsync=objects,derived-metadata,reference,index"];
    if (mode === "auto") await this.git([...fsync, "-c", `gc.auto=${GC_AUTO_LOOSE}`, "-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"]);
    else await this.git([...fsync, "gc", "--prune=now", "--quiet"]);
  }

  /**
   * Whether git's `gc --auto` would pack now, estimated as git estimates it (the loose objects of
   * one of the 256 folders, objects/17), without starting a process.
   */
  packDue(): boolean {
    const dir = `${this.gitDir}/objects/17`;
    const loose = this.sys.exists(dir) ? this.sys.readdir(dir).filter((name) => name.length === 38).length : 0;
    return loose > Math.ceil(GC_AUTO_LOOSE / 256);
  }

  /** Objects stored one file each (not yet packed). */
  async looseObjects(): Promise<number> {
    return Number((await this.gitText(["count-objects"])).split(" ")[0]);
  }

  /** Which of these objects the logbook does not hold. */
  async missingObjects(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const out = await this.git(["cat-file", "--batch-check"], { input: ids.join("\n") + "\n" });
    return new Set(out.toString().split("\n").filter((l) => l.endsWith(" missing")).map((l) => l.split(" ")[0]));
  }

  /**
   * Streams objects through one `git cat-file --batch`, handing each to `onBlob` as it completes,
   * so a restore of gigabytes never holds more than one file in memory.
   */
  async streamBlobs(ids: string[], onBlob: (index: number, data: Buffer) => void | Promise<void>): Promise<void> {
    if (!ids.length) return;
    const none: Buffer = Buffer.alloc(0);
    // Bytes of a header not yet whole; and the blob (with git's LF after it) being filled, in a
    // buffer of its size made once: gathering a large file chunk by chunk into ever larger buffers
    // copied it over and over (a 60 MB file took a minute).
    let pending = none;
    let filling: { data: Buffer; at: number } | undefined;
    let index = 0;
    // Chunks are taken strictly one after the other, even if the pipe hands one over while the
    // consumer still awaits the last.
    let chain: Promise<void> = Promise.resolve();
    const take = async (chunk: Buffer) => {
      let rest = chunk;
      for (;;) {
        if (filling) {
          const copied = rest.copy(filling.data, filling.at);
          filling.at += copied;
          rest = rest.subarray(copied);
          if (filling.at < filling.data.length) return;
          const blob = filling.data.subarray(0, filling.data.length - 1);
          filling = undefined;
          await onBlob(index++, blob);
        }
        if (!rest.length) return;
        pending = pending.length ? Buffer.concat([pending, rest]) : rest;
        const nl = pending.indexOf(0x0a);
        if (nl < 0) return;
        const head = pending.subarray(0, nl).toString().split(" ");
        if (head[1] === "missing") throw new VmlError("GIT_FAILED", `object ${head[0]} is missing from the logbook`);
        const size = Number(head[2]);
        const body = pending.subarray(nl + 1);
        pending = none;
        if (body.length > size) {
          // Whole in what came: handed over as a window on it, not copied.
          rest = body.subarray(size + 1);
          await onBlob(index++, body.subarray(0, size));
        } else {
          filling = { data: Buffer.allocUnsafe(size + 1), at: 0 };
          rest = body;
        }
      }
    };
    await this.git(["cat-file", "--batch"], {
      input: ids.join("\n") + "\n",
      collect: false,
      onStdout: (chunk) => (chain = chain.then(() => take(chunk))),
    });
    await chain;
  }

  /**
   * Takes the logbook's lock, waiting up to `waitMs` for a live holder to finish; a lock left by a
   * dead process is recovered. Returns the release and whether a crashed writer was recovered from.
   */
  async lock(waitMs: number): Promise<{ release: () => void; recovered: boolean }> {
    const file = `${this.gitDir}/vml.lock`;
    const deadline = this.sys.now().getTime() + waitMs;
    let recovered = false;
    for (;;) {
      if (this.sys.createExclusive(file, String(this.sys.pid()))) {
        return { release: () => this.sys.remove(file), recovered };
      }
      let pid: number;
      try {
        pid = Number(this.sys.readFile(file).toString().trim());
      } catch {
        continue; // released between our two looks
      }
      if (pid && this.sys.processAlive(pid)) {
        if (this.sys.now().getTime() >= deadline) {
          throw new VmlError("LOCKED", `the logbook is in use by another vml-agent (pid ${pid}); try again when it is done`);
        }
        await this.sys.sleep(50);
        continue;
      }
      // The holder died mid-snapshot: its git locks are stale too, and nothing it did was published.
      for (const stale of ["index.lock", "HEAD.lock", "packed-refs.lock", "vml.lock"]) this.sys.remove(`${this.gitDir}/${stale}`);
      for (const ref of this.sys.listFiles(`${this.gitDir}/refs`)) if (ref.endsWith(".lock")) this.sys.remove(ref);
      recovered = true;
    }
  }
}
