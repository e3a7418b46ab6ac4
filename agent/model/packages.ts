// The package set as text, one package a line, sorted, and the difference between two sets.
// rpm lines are E:N-V-R.A as CernVM prints them; dpkg lines are NAME:ARCH<TAB>VERSION.

export type PackageFormat = "rpm" | "dpkg";

export interface PackageList {
  format: PackageFormat;
  lines: string[];
}

const HEADER = "#vml-packages 1";

export function renderPackages(p: PackageList): string {
  const lines = [...new Set(p.lines)].sort();
  return [`${HEADER} ${p.format}`, ...lines].join("\n") + "\n";
}

export function parsePackages(text: string): PackageList {
  const [head, ...rest] = text.split("\n");
  const m = /^#vml-packages 1 (rpm|dpkg)$/.exec(head);
  if (!m) throw new Error("not a version 1 package list");
  return { format: m[1] as PackageFormat, lines: rest.filter((l) => l !== "") };
}

/** Splits a line into the package's identity (name and arch) and its version. */
export function packageKey(format: PackageFormat, line: string): { key: string; version: string } {
  if (format === "dpkg") {
    const [key, version = ""] = line.split("\t");
    return { key, version };
  }
  // E:N-V-R.A: version and release never contain "-", so the name is all before the last two.
  const colon = line.indexOf(":");
  const epoch = line.slice(0, colon);
  const nvra = line.slice(colon + 1);
  const dot = nvra.lastIndexOf(".");
  const arch = nvra.slice(dot + 1);
  const nvr = nvra.slice(0, dot);
  const r = nvr.lastIndexOf("-");
  const v = nvr.lastIndexOf("-", r - 1);
  return { key: `${nvr.slice(0, v)}.${arch}`, version: `${epoch}:${nvr.slice(v + 1)}` };
}

export interface PackageChanges {
  added: string[];
  removed: string[];
  changed: { name: string; from: string; to: string }[];
}

export function diffPackages(a: PackageList | undefined, b: PackageList | undefined): PackageChanges {
  const index = (p: PackageList | undefined) => {
    const m = new Map<string, string[]>();
    for (const l of p?.lines ?? []) {
      const { key, version } = packageKey(p!.format, l);
      m.set(key, [...(m.get(key) ?? []), version]);
    }
    return m;
  };
  const ma = index(a);
  const mb = index(b);
  const out: PackageChanges = { added: [], removed: [], changed: [] };
  for (const [k, vb] of mb) {
    const va = ma.get(k);
    if (!va) out.added.push(`${k} ${vb.join(",")}`);
    else if (va.join(",") !== vb.join(",")) out.changed.push({ name: k, from: va.join(","), to: vb.join(",") });
  }
  for (const [k, va] of ma) if (!mb.has(k)) out.removed.push(`${k} ${va.join(",")}`);
  return out;
}
