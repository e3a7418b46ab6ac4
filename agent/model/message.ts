// Snapshot metadata kept as git trailers at the end of the commit message (docs/FORMAT.md).

export type Trigger = "base" | "manual" | "auto" | "schedule" | "package" | "restore";

export interface SnapshotMeta {
  trigger: Trigger;
  base: string;
  host: string;
  agent: string;
}

const KEYS: [keyof SnapshotMeta, string][] = [
  ["trigger", "Vml-Trigger"],
  ["base", "Vml-Base"],
  ["host", "Vml-Host"],
  ["agent", "Vml-Agent"],
];

export function renderTrailers(m: SnapshotMeta): string {
  return [...KEYS.map(([k, t]) => `${t}: ${m[k].replace(/\n/g, " ")}`), "Vml-Format: 1"].join("\n") + "\n";
}

/** Splits a full commit message into the user's message and the snapshot metadata. */
export function parseMessage(full: string): { message: string; meta: Partial<SnapshotMeta> } {
  const text = full.replace(/\s+$/, "");
  const cut = text.lastIndexOf("\n\n");
  const last = cut >= 0 ? text.slice(cut + 2) : text;
  const lines = last.split("\n");
  if (!lines.every((l) => /^Vml-[A-Za-z-]+: /.test(l))) return { message: text, meta: {} };
  const meta: Partial<SnapshotMeta> = {};
  for (const l of lines) {
    const [t, ...v] = l.split(": ");
    const key = KEYS.find(([, name]) => name === t)?.[0];
    if (key) (meta as Record<string, string>)[key] = v.join(": ");
  }
  return { message: cut >= 0 ? text.slice(0, cut) : "", meta };
}
