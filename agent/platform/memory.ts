// A daemon lives for weeks and holds little: what one busy moment made V8 grow (the watch's first
// crawl, a user's commit) must go back to the system, not stay committed until the next restart.
import v8 from "node:v8";
import vm from "node:vm";

let collect: (() => void) | undefined;

/**
 * For a long-lived process from its start: every full collection compacts, so pages that hold a
 * few survivors are given back.
 */
export function keepHeapSmall(): void {
  v8.setFlagsFromString("--compact-on-every-full-gc");
}

/**
 * Whether V8's young generation may grow (V8's default) or keeps its first size. Held while the watch
 * crawls a large tree (it would grow to 32 MiB there and stay grown); let grow while serving users:
 * held at its first size, a commit during a burst of changes spent more time collecting than working.
 */
export function youngGenerationGrows(grows: boolean): void {
  v8.setFlagsFromString(`--semi-space-growth-factor=${grows ? 2 : 1}`);
}

/** Runs a full garbage collection, so freed heap pages go back to the system now. */
export function releaseMemory(): void {
  if (!collect) {
    // The documented way to reach V8's collector without starting node with --expose-gc.
    v8.setFlagsFromString("--expose-gc");
    collect = vm.runInNewContext("gc") as () => void;
  }
  collect();
}

/** Where the process's memory is, in MiB: resident, V8's heap (committed and in use), off-heap buffers. */
export function memoryUse(): { rss: number; heapTotal: number; heapUsed: number; external: number } {
  const m = process.memoryUsage();
  const mib = (n: number) => Math.round(n / 1048576);
  return { rss: mib(m.rss), heapTotal: mib(m.heapTotal), heapUsed: mib(m.heapUsed), external: mib(m.external) };
}
