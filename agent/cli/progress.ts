// Progress on a terminal for long operations: files, bytes, rate. Never used when piped or with --json.
import type { Progress } from "../core/context.js";
import type { System } from "../platform/system.js";
import type { Io } from "./io.js";

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function terminalProgress(io: Io, sys: System): Progress {
  let phase = "";
  let total: number | undefined;
  let start = sys.now().getTime();
  let last = 0;
  let bytes = 0;
  let shown = false;
  return {
    phase(name, t) {
      phase = name;
      total = t;
      start = sys.now().getTime();
    },
    update(done, b) {
      if (b !== undefined) bytes = b;
      const now = sys.now().getTime();
      if (now - last < 200) return;
      last = now;
      const secs = Math.max((now - start) / 1000, 0.001);
      const count = total ? `${done}/${total} files` : `${done} files`;
      const size = phase === "scanning" ? `, ${mib(bytes)}` : "";
      io.err(`\r\x1b[K${phase}: ${count}${size}, ${Math.round(done / secs)} files/s`);
      shown = true;
    },
    done() {
      if (shown) io.err("\r\x1b[K");
      shown = false;
    },
  };
}
