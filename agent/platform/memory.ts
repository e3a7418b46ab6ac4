// A long-running daemon after a large snapshot holds tens of megabytes of garbage that V8 returns
// to the system only after minutes of idleness; at rest it should be small at once.
import v8 from "node:v8";
import vm from "node:vm";

let collect: (() => void) | undefined;

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
