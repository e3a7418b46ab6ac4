// The one doorway to the machine: files, processes, clock, identity. The core receives a System and
// never imports node:fs or node:child_process itself, so tests run it on temporary guest roots with a
// fixed clock and environment.
import * as fs from "node:fs";
import { fork, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as os from "node:os";
import { fileWriter, type FileMeta, type FileWriter } from "./writers.js";
import { processEnv } from "./process-env.js";
import { pythonTimeWriter } from "./time-writer.js";

/** python3 processes setting a restore's file times at most. */
const TIME_HELPERS = 4;

/** Paths are raw bytes: guest file names need not be valid UTF-8. */
export type BytePath = Buffer;

export interface Stat {
  kind: "file" | "dir" | "symlink" | "fifo" | "socket" | "char" | "block";
  mode: number; // permission bits incl. setuid/setgid/sticky (07777)
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  nlink: number;
  dev: bigint;
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export interface ExecResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/**
 * A process kept running and asked one thing after another over its stdin: a request costs a pipe
 * write instead of a process start (which, from a large process, takes longer than the work).
 */
export interface Conversation {
  /**
   * Writes `input` and resolves with the next `lines` lines of stdout. Rejects with what the process
   * wrote to stderr when it ends first; it is then over, and later asks reject too.
   */
  ask(input: string, lines: number): Promise<string[]>;
  /** Whether the process has ended (asks reject). */
  ended(): boolean;
  /** Closes its stdin: the process ends. */
  end(): void;
}

export interface ExecOptions {
  input?: Buffer | string;
  env?: Record<string, string>;
  cwd?: string;
  /**
   * Called with each chunk of stdout as it arrives (progress, streaming). When it returns a promise,
   * reading pauses until it settles: the consumer sets the pace, so memory stays bounded.
   */
  onStdout?: (chunk: Buffer) => void | Promise<void>;
  /** False: stdout goes only to onStdout, not collected (large streams). */
  collect?: boolean;
  /** Stdin read from bytes [start, end) of a file, piece by piece, instead of `input`. */
  inputFile?: { path: string; start: number; end: number };
  /**
   * Stdout written to a file by the process itself, never passing through this one: appended to an
   * existing file, or (`create`) to a new one made as the file writer makes its files: never through
   * an existing name or symlink, its owner and exact mode set through its descriptor once the
   * content is in (a write by anyone but root clears setuid and setgid).
   */
  stdoutFile?: { path: BytePath | string; create?: FileMeta };
}

/** One entry's times for setTimes, in nanoseconds; symlinks themselves are set, never their targets. */
export interface TimeSetting {
  path: BytePath;
  mtimeNs: bigint;
}

export interface TimeWriter {
  set(entries: TimeSetting[]): void;
  /** Resolves once every time handed over so far is set (before the paths move). */
  settle(): Promise<void>;
  /** Finishes (once: later calls give the same answer); false when only microseconds could be kept. */
  close(): Promise<boolean>;
}

export interface System {
  lstat(path: BytePath | string): Stat | undefined;
  readdir(path: BytePath | string): BytePath[];
  readlink(path: BytePath | string): BytePath;
  readFile(path: BytePath | string): Buffer;
  /**
   * Up to `length` bytes at `start` of a regular file (symlinks followed), with the file's size:
   * the parts of a large file that are needed, never all of it.
   */
  readRange(path: string, start: number, length: number): { data: Buffer; size: number };
  /** SHA-256 (hex) of bytes [start, end) of a file, read piece by piece. */
  hashFile(path: string, start: number, end: number): Promise<string>;
  /** Overwrites bytes at `offset` of an existing file (a header completed once the rest is written). */
  writeAt(path: string, offset: number, data: Buffer): void;
  appendFile(path: string, data: Buffer | string): void;
  /** Writes a scratch file: no durability, for data that is read back at once. */
  writeFile(path: string, data: Buffer | string, mode?: number): void;
  /**
   * Writes whole or not at all: temp file, fsync, rename. `flush: false` leaves the fsync to the
   * caller's own later flush (several files, one sync).
   */
  writeFileAtomic(path: string, data: Buffer | string, mode?: number, flush?: boolean): void;
  /** Creates a file with this content only if none exists, never seen partly written; false when one does. */
  createExclusive(path: string, data: string): boolean;
  /** Regular files below a directory, recursively; empty when it does not exist. */
  listFiles(dir: string): string[];
  rename(from: BytePath | string, to: BytePath | string): void;
  /** Removes a file or symlink (never a directory). */
  unlink(path: BytePath | string): void;
  /** Removes an empty directory; false when it is not empty. */
  rmdir(path: BytePath | string): boolean;
  mkdirOne(path: BytePath | string, mode: number): void;
  symlink(target: BytePath, path: BytePath | string): void;
  link(existing: BytePath | string, path: BytePath | string): void;
  /** A new file (it must not exist) with the content of a regular file. */
  copyFile(from: BytePath | string, to: BytePath | string): void;
  /** Creates about `files` new files, several at once when they are many (see FileWriter). */
  fileWriter(files: number): FileWriter;
  /** Renames, replacing the target entry itself (a symlink there is replaced, not followed). */
  move(from: BytePath, to: BytePath): void;
  /** Owner of the entry itself (lchown: a symlink is changed, not its target). */
  lchown(path: BytePath | string, uid: number, gid: number): void;
  chmodPath(path: BytePath | string, mode: number): void;
  mkfifo(path: BytePath, mode: number): Promise<void>;
  /**
   * Sets modification times to the nanosecond (access time = modification time), symlinks not
   * followed, on the side while the caller goes on writing. Node's own utimes keeps microseconds
   * only; python3's os.utime(ns=) keeps them all.
   */
  timeWriter(): TimeWriter;
  mkdir(path: string, mode: number): void;
  chmod(path: string, mode: number): void;
  /**
   * Removes a file, or a folder with all it holds (symlinks removed, never followed); nothing when
   * absent. `patientMs`: a folder something else may still be writing in is tried again until then.
   */
  remove(path: BytePath | string, patientMs?: number): void;
  exists(path: BytePath | string): boolean;
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Starts a process to converse with (see Conversation). */
  converse(cmd: string, args: string[], env: Record<string, string>): Conversation;
  /**
   * Runs a module of this package in a node process of its own (`args` show in ps), hands it
   * `request` and resolves with its one reply. The child's stderr is ours; it ends when we do (its
   * channel to us closes).
   */
  runChild(module: string, args: string[], request: unknown): Promise<unknown>;
  /** Flushes the file system holding `path` to disk (syncfs): one flush for many written files. */
  syncFs(path: string): Promise<void>;
  /**
   * Flushes these files and the folders holding them, all at once: a few written files on disk
   * without flushing the whole file system (and whatever else is being written to it).
   */
  flushFiles(paths: string[]): Promise<void>;
  /** Whether a process with this pid is alive (for stale lock recovery). */
  processAlive(pid: number): boolean;
  pid(): number;
  now(): Date;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs `fn` on a signal to this process; returns the disposal. */
  onSignal(signal: "SIGTERM" | "SIGINT" | "SIGHUP", fn: () => void): () => void;
  hostname(): string;
  /** Processors this process may use. */
  cores(): number;
  /** This process's environment: what commands run with. */
  env(): Record<string, string>;
  /**
   * The environment a snapshot records and names its author from: the caller's shell. The same as
   * env() here; the daemon answers a user's request with that user's variables, never runs with them.
   */
  callerEnv(): Record<string, string>;
  getxattr(path: string, name: string): Promise<string | undefined>;
}

function kindOf(s: fs.BigIntStats): Stat["kind"] {
  if (s.isFile()) return "file";
  if (s.isDirectory()) return "dir";
  if (s.isSymbolicLink()) return "symlink";
  if (s.isFIFO()) return "fifo";
  if (s.isSocket()) return "socket";
  if (s.isCharacterDevice()) return "char";
  return "block";
}

export class NodeSystem implements System {
  lstat(path: BytePath | string): Stat | undefined {
    const s = fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
    if (!s) return undefined;
    return {
      kind: kindOf(s),
      mode: Number(s.mode & 0o7777n),
      uid: Number(s.uid),
      gid: Number(s.gid),
      size: Number(s.size),
      blocks: Number(s.blocks),
      nlink: Number(s.nlink),
      dev: s.dev,
      ino: s.ino,
      mtimeNs: s.mtimeNs,
      ctimeNs: s.ctimeNs,
    };
  }

  readdir(path: BytePath | string): BytePath[] {
    return fs.readdirSync(path, { encoding: "buffer" });
  }

  readlink(path: BytePath | string): BytePath {
    return fs.readlinkSync(path, { encoding: "buffer" });
  }

  readFile(path: BytePath | string): Buffer {
    return fs.readFileSync(path);
  }

  readRange(path: string, start: number, length: number): { data: Buffer; size: number } {
    const fd = fs.openSync(path, "r");
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new Error("not a regular file");
      const data = Buffer.alloc(Math.max(0, Math.min(length, st.size - start)));
      let got = 0;
      while (got < data.length) {
        const n = fs.readSync(fd, data, got, data.length - got, start + got);
        if (n === 0) break;
        got += n;
      }
      return { data: data.subarray(0, got), size: st.size };
    } finally {
      fs.closeSync(fd);
    }
  }

  async hashFile(path: string, start: number, end: number): Promise<string> {
    const hash = createHash("sha256");
    if (end > start) {
      for await (const chunk of fs.createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
    }
    return hash.digest("hex");
  }

  writeAt(path: string, offset: number, data: Buffer): void {
    const fd = fs.openSync(path, "r+");
    try {
      let done = 0;
      while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, offset + done);
    } finally {
      fs.closeSync(fd);
    }
  }

  appendFile(path: string, data: Buffer | string): void {
    fs.appendFileSync(path, data);
  }

  writeFile(path: string, data: Buffer | string, mode = 0o644): void {
    fs.writeFileSync(path, data, { mode });
  }

  writeFileAtomic(path: string, data: Buffer | string, mode = 0o644, flush = true): void {
    fs.renameSync(this.writeBeside(path, data, mode, flush), path);
  }

  /** Writes (and with `flush`, flushes) a file beside `path` under a name of this process's; returns that name. */
  private writeBeside(path: string, data: Buffer | string, mode: number, flush: boolean): string {
    const tmp = `${path}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, "w", mode);
    try {
      // Given the descriptor, writeFileSync loops over short writes (a disk filling up makes one
      // before it fails); a single writeSync would leave the file cut short without an error.
      fs.writeFileSync(fd, data);
      if (flush) fs.fsyncSync(fd);
    } catch (e) {
      // A full disk leaves no part-written file behind.
      fs.rmSync(tmp, { force: true });
      throw e;
    } finally {
      fs.closeSync(fd);
    }
    return tmp;
  }

  createExclusive(path: string, data: string): boolean {
    // Written whole under a name of our own, then linked into place: whoever sees the file sees all
    // of it (an empty file, between an exclusive open and its write, would read as a dead holder's).
    // Not flushed: after a power cut a lock that is gone or empty only reads as a dead holder's.
    const tmp = this.writeBeside(path, data, 0o600, false);
    try {
      fs.linkSync(tmp, path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    } finally {
      fs.unlinkSync(tmp);
    }
  }

  listFiles(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => `${d.parentPath}/${d.name}`);
  }

  rename(from: BytePath | string, to: BytePath | string): void {
    fs.renameSync(from, to);
  }

  unlink(path: BytePath | string): void {
    fs.unlinkSync(path);
  }

  rmdir(path: BytePath | string): boolean {
    try {
      fs.rmdirSync(path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOTEMPTY" || (e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    }
  }

  mkdirOne(path: BytePath | string, mode: number): void {
    fs.mkdirSync(path, { mode });
  }

  symlink(target: BytePath, path: BytePath | string): void {
    fs.symlinkSync(target, path);
  }

  link(existing: BytePath | string, path: BytePath | string): void {
    fs.linkSync(existing, path);
  }

  copyFile(from: BytePath | string, to: BytePath | string): void {
    fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL);
  }

  fileWriter(files: number): FileWriter {
    return fileWriter(files);
  }

  move(from: BytePath, to: BytePath): void {
    fs.renameSync(from, to);
  }

  lchown(path: BytePath | string, uid: number, gid: number): void {
    fs.lchownSync(path, uid, gid);
  }

  chmodPath(path: BytePath | string, mode: number): void {
    fs.chmodSync(path, mode);
  }

  async mkfifo(path: BytePath, mode: number): Promise<void> {
    const r = await this.exec("mkfifo", ["-m", mode.toString(8), "--", path.toString("latin1")], { env: { ...this.env(), LC_ALL: "C" } });
    if (r.code !== 0) throw new Error(r.stderr.trim());
  }

  /**
   * The system's python3, else PATH's: a physicist's PATH leads to an analysis Python first (an LCG
   * view on /cvmfs, conda, a pyenv shim), which can take seconds to start, or fail to.
   */
  protected python(): string {
    return ["/usr/bin/python3", "/bin/python3"].find((p) => this.lstat(p)) ?? "python3";
  }

  timeWriter(): TimeWriter {
    return pythonTimeWriter(this.python(), this.env(), Math.min(TIME_HELPERS, this.cores()));
  }

  mkdir(path: string, mode: number): void {
    fs.mkdirSync(path, { recursive: true, mode });
  }

  chmod(path: string, mode: number): void {
    fs.chmodSync(path, mode);
  }

  remove(path: BytePath | string, patientMs = 0): void {
    // node waits retryDelay * n before its n-th retry.
    const retryDelay = 50;
    let maxRetries = 0;
    while ((retryDelay * (maxRetries + 1) * (maxRetries + 2)) / 2 <= patientMs) maxRetries++;
    fs.rmSync(path, { force: true, recursive: true, maxRetries, retryDelay });
  }

  exists(path: BytePath | string): boolean {
    return fs.existsSync(path);
  }

  exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const target = opts.stdoutFile;
      let outFd = target && fs.openSync(target.path, target.create ? "wx" : "a", 0o600);
      // Ours is kept until the process ends: a new file gets its owner and mode through it then.
      const release = (code: number | null) => {
        if (outFd === undefined) return;
        const fd = outFd;
        outFd = undefined;
        try {
          if (target?.create && code === 0) {
            fs.fchownSync(fd, target.create.uid, target.create.gid);
            fs.fchmodSync(fd, target.create.mode);
          }
        } finally {
          fs.closeSync(fd);
        }
      };
      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(cmd, args, {
          cwd: opts.cwd,
          env: opts.env ?? process.env,
          stdio: ["pipe", outFd ?? "pipe", "pipe"],
        });
      } catch (e) {
        release(null);
        throw e;
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let failed: unknown;
      const stdout = child.stdout;
      stdout?.on("data", (c: Buffer) => {
        if (opts.collect !== false) out.push(c);
        const pending = failed === undefined ? opts.onStdout?.(c) : undefined;
        if (pending) {
          stdout.pause();
          pending.then(
            () => stdout.resume(),
            (e: unknown) => {
              failed = e;
              stdout.resume();
            },
          );
        }
      });
      child.stderr!.on("data", (c: Buffer) => err.push(c));
      child.on("error", (e) => {
        release(null);
        reject(e);
      });
      const stdin = child.stdin!;
      // A command that exits before reading all its input closes the pipe; its exit code tells.
      stdin.on("error", () => undefined);
      const range = opts.inputFile;
      const source = range && range.end > range.start ? fs.createReadStream(range.path, { start: range.start, end: range.end - 1, highWaterMark: 1 << 20 }) : undefined;
      source?.on("error", (e) => {
        failed ??= e;
        stdin.destroy();
      });
      child.on("close", (code) => {
        source?.destroy();
        try {
          release(code);
        } catch (e) {
          failed ??= e;
        }
        if (failed === undefined) resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() });
        else reject(failed);
      });
      if (source) source.pipe(stdin);
      else stdin.end(opts.input ?? "");
    });
  }

  converse(cmd: string, args: string[], env: Record<string, string>): Conversation {
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let over: Error | undefined;
    const waiting: { lines: number; resolve: (l: string[]) => void; reject: (e: Error) => void }[] = [];
    const answer = () => {
      for (let w = waiting[0]; w; w = waiting[0]) {
        const lines = out.split("\n");
        if (lines.length - 1 < w.lines) return;
        out = lines.slice(w.lines).join("\n");
        waiting.shift()!.resolve(lines.slice(0, w.lines));
      }
    };
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      answer();
    });
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.stdin.on("error", () => undefined);
    const finish = (why: string) => {
      over = new Error(err.trim() || why);
      for (const w of waiting.splice(0)) w.reject(over);
    };
    child.on("error", (e) => finish(e.message));
    child.on("close", (code, signal) => finish(signal ?? `exit ${code}`));
    return {
      ask: (input, lines) =>
        new Promise((resolve, reject) => {
          if (over) return reject(over);
          waiting.push({ lines, resolve, reject });
          child.stdin.write(input);
        }),
      ended: () => over !== undefined,
      end: () => void child.stdin.end(),
    };
  }

  runChild(module: string, args: string[], request: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const child = fork(module, args, { env: this.env(), stdio: ["ignore", "ignore", "inherit", "ipc"] });
      let replied = false;
      child.once("message", (reply) => {
        replied = true;
        resolve(reply);
      });
      child.on("error", reject);
      child.on("exit", (code, signal) => {
        if (!replied) reject(new Error(`${module} ended without a reply (${signal ?? `exit ${code}`})`));
      });
      child.send(request as object);
    });
  }

  async flushFiles(paths: string[]): Promise<void> {
    // A name without a folder is in the current one.
    const folders = new Set(paths.map((p) => (p.includes("/") ? p.slice(0, p.lastIndexOf("/")) || "/" : ".")));
    await Promise.all(
      [...paths, ...folders].map(async (p) => {
        const fh = await fs.promises.open(p, "r");
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      }),
    );
  }

  async syncFs(path: string): Promise<void> {
    const r = await this.exec("sync", ["--file-system", path]);
    if (r.code !== 0) throw new Error(`sync --file-system ${path}: ${r.stderr.trim()}`);
  }

  processAlive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPERM";
    }
  }

  pid(): number {
    return process.pid;
  }

  now(): Date {
    return new Date();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const end = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", end);
        resolve();
      };
      const timer = setTimeout(end, ms);
      signal?.addEventListener("abort", end);
    });
  }

  onSignal(signal: "SIGTERM" | "SIGINT" | "SIGHUP", fn: () => void): () => void {
    process.on(signal, fn);
    return () => void process.off(signal, fn);
  }

  hostname(): string {
    return os.hostname();
  }

  cores(): number {
    return os.availableParallelism();
  }

  env(): Record<string, string> {
    return processEnv();
  }

  callerEnv(): Record<string, string> {
    return this.env();
  }

  async getxattr(path: string, name: string): Promise<string | undefined> {
    // Node has no xattr API; getfattr (package attr) reads them where installed.
    try {
      const r = await this.exec("getfattr", ["--only-values", "--absolute-names", "-n", name, path]);
      return r.code === 0 ? r.stdout.toString().trim() : undefined;
    } catch {
      return undefined;
    }
  }
}

/** A request's view of the machine: the daemon's system, recording the requesting user's variables. */
export class CallerSystem extends NodeSystem {
  constructor(private readonly caller: Record<string, string>) {
    super();
  }

  callerEnv(): Record<string, string> {
    return this.caller;
  }
}
