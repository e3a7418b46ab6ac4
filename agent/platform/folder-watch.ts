// Folders watched through inotify (node's fs.watch), one watch each, following folders as they come
// and go. Nothing is read again on an event: chokidar, used before, read a whole folder again (a stat
// of every name) on each event in it, which took more than a processor while a job appended to one
// file of a 20,000-file folder ten times a second.
import { watch as fsWatch, type Dirent, type FSWatcher } from "node:fs";
import { lstat, readdir } from "node:fs/promises";

export interface FolderWatch {
  /** Settles when every folder there was at the start is watched. */
  ready: Promise<void>;
  /** How many inotify watches are held: one per folder. */
  watches(): number;
  close(): Promise<void>;
}

/**
 * Watches the folders `targets` and, below them, those `wanted` (absolute paths) says; symlinks are
 * never followed. `onEvent` gets the folder and the name that changed in it (null: the folder
 * itself), as inotify reports it: "rename" when a name came or went, "change" otherwise.
 */
export function watchFolders(
  targets: string[],
  wanted: (abs: string) => boolean,
  onEvent: (dir: string, event: string, name: string | null) => void,
  onError: (e: unknown) => void,
): FolderWatch {
  const watchers = new Map<string, FSWatcher>();
  let closed = false;
  const join = (dir: string, name: string) => `${dir === "/" ? "" : dir}/${name}`;

  /** Lets go of the watches of a folder and all below it. */
  const forget = (abs: string) => {
    for (const [p, w] of watchers) {
      if (p !== abs && !p.startsWith(abs + "/")) continue;
      w.close();
      watchers.delete(p);
    }
  };
  /** Watches a folder, then the wanted folders in it. */
  const add = async (abs: string): Promise<void> => {
    const st = await lstat(abs).catch(() => undefined);
    if (closed || !st?.isDirectory() || watchers.has(abs)) return;
    let w: FSWatcher;
    try {
      w = fsWatch(abs, { persistent: true }, (event, name) => void changed(abs, event, name));
    } catch (e) {
      // Gone meanwhile, or not ours to read: nothing to watch there. Anything else (the inotify
      // limit) is the caller's to report.
      if (!["ENOENT", "ENOTDIR", "EACCES", "EPERM"].includes((e as NodeJS.ErrnoException).code ?? "")) onError(e);
      return;
    }
    // The folder itself removed: its parent's watch says so; this one just ends.
    w.on("error", () => forget(abs));
    watchers.set(abs, w);
    const entries = await readdir(abs, { withFileTypes: true }).catch((): Dirent[] => []);
    for (const d of entries) if (d.isDirectory() && wanted(join(abs, d.name))) await add(join(abs, d.name));
  };
  const changed = async (dir: string, event: string, name: string | null) => {
    if (closed) return;
    onEvent(dir, event, name);
    if (event !== "rename" || !name) return;
    // A name came or went: a folder that came is watched, one that went is let go.
    const abs = join(dir, name);
    // A folder watched under that name is watched anew: the one there now may be another, even
    // with the same inode number (a folder removed and made again at once, the events of both
    // read as one).
    if (watchers.has(abs)) forget(abs);
    if (wanted(abs)) await add(abs);
  };

  const ready = (async () => {
    for (const t of targets) await add(t);
  })().catch(onError);
  return {
    ready,
    watches: () => watchers.size,
    close: async () => {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
