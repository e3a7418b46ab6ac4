// New files written by a few threads at once: creating a file is mostly kernel work, and on more
// than one core it goes nearly that many times faster (a restore writes tens of thousands).
import * as fs from "node:fs";
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";

export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
}

export interface FileWriter {
  /**
   * Creates a new file (never through an existing name or symlink) with this content, owner and
   * exact mode (no umask), complete before anyone can see it under its final name.
   */
  write(path: Buffer, data: Buffer, meta: FileMeta): Promise<void>;
  /** Stops the threads once every write handed over is done. */
  close(): Promise<void>;
}

/**
 * The one place a restored file is created, in this thread or in one of the pool's (its source is
 * sent there, so it uses nothing but its arguments). Owner first: a chown clears the setuid and
 * setgid bits a chmod just set. writeFileSync on a descriptor goes on after a short write (a disk
 * filling up makes one before it fails); writeSync does not.
 */
function createFile(fsm: typeof fs, path: Buffer, data: Uint8Array, mode: number, uid: number, gid: number): void {
  const fd = fsm.openSync(path, "wx", 0o600);
  try {
    fsm.writeFileSync(fd, data);
    fsm.fchownSync(fd, uid, gid);
    fsm.fchmodSync(fd, mode);
  } finally {
    fsm.closeSync(fd);
  }
}

const THREAD = `
const fs = require("node:fs");
const { parentPort } = require("node:worker_threads");
const createFile = ${createFile.toString()};
parentPort.on("message", (batch) => {
  const done = [];
  for (const { id, path, data, mode, uid, gid } of batch) {
    try {
      createFile(fs, Buffer.from(path, "latin1"), data, mode, uid, gid);
      done.push({ id });
    } catch (e) {
      done.push({ id, error: e.message });
    }
  }
  parentPort.postMessage(done);
});
`;

/**
 * Below this many files they are created in this thread: starting the pool's threads takes about
 * as long as creating a few hundred files (a restore of a few changed files waited on it).
 */
const FEW_FILES = 256;

interface Job extends FileMeta {
  id: number;
  path: string;
  data: Uint8Array;
}

/** A writer for about `files` new files. */
export function fileWriter(files: number, threads = Math.min(4, Math.max(2, availableParallelism()))): FileWriter {
  if (files < FEW_FILES) {
    return {
      write: async (path, data, meta) => createFile(fs, path, data, meta.mode, meta.uid, meta.gid),
      close: async () => undefined,
    };
  }
  let pool: Worker[] | undefined;
  // The files of one folder go to one thread: threads creating in the same folder wait on each other.
  const byFolder = new Map<string, number>();
  let seq = 0;
  let queued: Job[][] = [];
  let flushing = false;
  const flush = () => {
    flushing = false;
    queued.forEach((jobs, w) => {
      if (jobs.length) pool![w].postMessage(jobs, jobs.map((j) => j.data.buffer as ArrayBuffer));
    });
    queued = queued.map(() => []);
  };
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  const start = () => {
    queued = Array.from({ length: threads }, () => []);
    pool = Array.from({ length: threads }, () => {
      const w = new Worker(THREAD, { eval: true });
      w.on("message", (done: { id: number; error?: string }[]) => {
        for (const m of done) {
          const p = pending.get(m.id)!;
          pending.delete(m.id);
          if (m.error) p.reject(new Error(m.error));
          else p.resolve();
        }
      });
      w.on("error", (e) => {
        for (const p of pending.values()) p.reject(e);
        pending.clear();
      });
      return w;
    });
    return pool;
  };
  return {
    write: (path, data, meta) =>
      new Promise<void>((resolve, reject) => {
        const id = seq++;
        pending.set(id, { resolve, reject });
        const workers = pool ?? start();
        const folder = path.subarray(0, Math.max(0, path.lastIndexOf(0x2f))).toString("latin1");
        let w = byFolder.get(folder);
        if (w === undefined) byFolder.set(folder, (w = byFolder.size % workers.length));
        // A copy of exactly these bytes, handed over rather than copied again (a Buffer may be a
        // window on a much larger one).
        const bytes = new Uint8Array(data);
        queued[w].push({ id, path: path.toString("latin1"), data: bytes, ...meta });
        // What is handed over in one turn of the event loop goes in one message per thread.
        if (!flushing) {
          flushing = true;
          setImmediate(flush);
        }
      }),
    close: async () => {
      if (!pool) return;
      await Promise.all(pool.map((w) => w.terminate()));
      pool = undefined;
    },
  };
}
