// This process's environment as plain strings: what commands run with, and what a request to the
// daemon carries. A module of its own, so the daemon's client loads nothing else of the platform.
export function processEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
  return out;
}
