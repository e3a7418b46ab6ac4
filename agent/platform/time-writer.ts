// Setting file times to the nanosecond on the side, through python3 helpers (node's utimes keeps
// microseconds only; python3's os.utime(ns=) keeps them all).
import * as fs from "node:fs";
import { spawn } from "node:child_process";
import type { TimeSetting, TimeWriter } from "./system.js";

/**
 * Reads NUL-separated PATH, NANOSECONDS pairs as they come and sets both times without following
 * symlinks; an empty path asks for "s\n" once all before it are set. Exits 3 when some time could
 * not be set. The folder of the last path stays open: a name looked up in it costs the kernel less
 * than a whole path, and paths come folder by folder. It is let go at each settle, as the caller
 * moves folders only after one.
 */
const SET_TIMES_PY = [
  "import os, sys",
  "buf, path, bad, fd, folder = b'', None, 0, -1, None",
  "def let_go():",
  "    global fd, folder",
  "    if fd >= 0: os.close(fd)",
  "    fd, folder = -1, None",
  "while True:",
  "    chunk = os.read(0, 1 << 16)",
  "    if not chunk: break",
  "    parts = (buf + chunk).split(b'\\0')",
  "    buf = parts.pop()",
  "    for p in parts:",
  "        if path is None and p == b'':",
  "            let_go()",
  "            sys.stdout.write('s\\n'); sys.stdout.flush()",
  "        elif path is None: path = p",
  "        else:",
  "            t = int(p)",
  "            d, _, name = path.rpartition(b'/')",
  "            try:",
  "                if not name: os.utime(path, ns=(t, t), follow_symlinks=False)",
  "                else:",
  "                    if d != folder:",
  "                        let_go()",
  "                        fd, folder = os.open(d or b'/', os.O_RDONLY | os.O_DIRECTORY), d",
  "                    os.utime(name, ns=(t, t), dir_fd=fd, follow_symlinks=False)",
  "            except OSError: bad += 1",
  "            path = None",
  "sys.exit(3 if bad else 0)",
].join("\n");

const NUL = Buffer.from([0]);
/** Bytes handed to a helper at once: one pipe write per file would cost more than setting the time. */
const BATCH = 1 << 15;

/** One helper process: what it was handed (for the fallback), what it owes, how it ended. */
interface Helper {
  stdin: NodeJS.WritableStream;
  /** What is handed over next, written in place: `at` bytes of `batch`. */
  batch: Buffer;
  at: number;
  handed: TimeSetting[];
  waiting: (() => void)[];
  failed: boolean;
  exited: Promise<number>;
}

function startHelper(python: string, env: Record<string, string>): Helper {
  // Isolated (-I: no PYTHON* variables, no user site; -S: no site packages): an analysis setup's
  // PYTHONPATH must not reach it.
  const child = spawn(python, ["-I", "-S", "-c", SET_TIMES_PY], { env, stdio: ["pipe", "pipe", "ignore"] });
  const exited = new Promise<number>((resolve) => {
    child.on("error", () => resolve(-1));
    child.on("close", (code) => resolve(code ?? -1));
  });
  const h: Helper = { stdin: child.stdin, batch: Buffer.allocUnsafe(BATCH), at: 0, handed: [], waiting: [], failed: false, exited };
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
      out = out.slice(nl + 1);
      h.waiting.shift()?.();
    }
  });
  child.stdin.on("error", () => (h.failed = true));
  // Without python3, times are set here to the microsecond when the writer closes.
  void exited.then((code) => {
    if (code === -1) h.failed = true;
    for (const w of h.waiting.splice(0)) w();
  });
  return h;
}

function flush(h: Helper): void {
  if (!h.at) return;
  if (!h.failed) h.stdin.write(h.batch.subarray(0, h.at));
  // The pipe may still hold the one handed over: the next batch is a buffer of its own.
  h.batch = Buffer.allocUnsafe(BATCH);
  h.at = 0;
}

/** Appends one path and its time (decimal nanoseconds), each NUL-terminated. */
function append(h: Helper, e: TimeSetting): void {
  // A bigint's decimal digits, and the NULs.
  const need = e.path.length + 24;
  if (h.at + need > h.batch.length) {
    flush(h);
    if (need > BATCH) h.batch = Buffer.allocUnsafe(need);
  }
  h.at += e.path.copy(h.batch, h.at);
  h.batch[h.at++] = 0;
  h.at += h.batch.write(String(e.mtimeNs), h.at, "latin1");
  h.batch[h.at++] = 0;
}

/**
 * The helper a path goes to, by the name of its folder: always the same one for a path, so its
 * settings keep their order, and a folder's files go together.
 */
function slotOf(path: Buffer, slots: number): number {
  if (slots === 1) return 0;
  const end = path.lastIndexOf(0x2f);
  let h = 0;
  for (let i = end - 1; i >= 0 && path[i] !== 0x2f; i--) h = (h * 31 + path[i]) | 0;
  return (h >>> 0) % slots;
}

/**
 * Times set by up to `helpers` python3 processes side by side, each started when the first path
 * of its share comes: setting the times of a whole work area keeps one processor busy for a while.
 */
export function pythonTimeWriter(python: string, env: Record<string, string>, helpers: number): TimeWriter {
  const started: (Helper | undefined)[] = Array.from({ length: Math.max(1, helpers) }, () => undefined);
  let closing: Promise<boolean> | undefined;
  const live = () => started.filter((h): h is Helper => h !== undefined);
  const finish = async (): Promise<boolean> => {
    let exact = true;
    // Every helper told first, then waited for: they finish side by side.
    for (const h of live()) {
      flush(h);
      h.stdin.end();
    }
    for (const h of live()) {
      const code = await h.exited;
      // 3: python3 set every time it could; a path that went away is not a reason to redo them all.
      if ((code === 0 || code === 3) && !h.failed) continue;
      exact = false;
      for (const e of h.handed) {
        const secs = Number(e.mtimeNs / 1000n) / 1e6;
        try {
          fs.lutimesSync(e.path, secs, secs);
        } catch {
          // reported by the caller's verification
        }
      }
    }
    return exact;
  };
  return {
    set: (entries) => {
      for (const e of entries) {
        const slot = slotOf(e.path, started.length);
        const h = (started[slot] ??= startHelper(python, env));
        h.handed.push(e);
        append(h, e);
      }
    },
    settle: () =>
      Promise.all(
        live().map((h) => {
          flush(h);
          if (h.failed) return undefined;
          return new Promise<void>((resolve) => {
            h.waiting.push(resolve);
            h.stdin.write(NUL);
          });
        }),
      ).then(() => undefined),
    close: () => (closing ??= finish()),
  };
}
