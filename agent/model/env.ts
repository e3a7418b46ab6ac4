// Environment variables as recorded in a snapshot: volatile ones dropped, sorted, values escaped.
import { escapeText, unescapeText } from "./escape.js";

const HEADER = "#vml-env 1";

export function filterEnv(env: Record<string, string>, drop: (name: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !drop(k)) out[k] = v;
  return out;
}

export function renderEnv(env: Record<string, string>): string {
  const names = Object.keys(env).sort();
  return [HEADER, ...names.map((k) => `${k}=${escapeText(env[k])}`)].join("\n") + "\n";
}

export function parseEnv(text: string): Record<string, string> {
  const [head, ...rest] = text.split("\n");
  if (head !== HEADER) throw new Error("not a version 1 environment record");
  const out: Record<string, string> = {};
  for (const l of rest) {
    if (l === "") continue;
    const eq = l.indexOf("=");
    out[l.slice(0, eq)] = unescapeText(l.slice(eq + 1));
  }
  return out;
}

export interface EnvChanges {
  set: { name: string; value: string }[];
  changed: { name: string; from: string; to: string }[];
  unset: string[];
}

export function diffEnv(a: Record<string, string>, b: Record<string, string>): EnvChanges {
  const out: EnvChanges = { set: [], changed: [], unset: [] };
  for (const k of Object.keys(b).sort()) {
    if (!(k in a)) out.set.push({ name: k, value: b[k] });
    else if (a[k] !== b[k]) out.changed.push({ name: k, from: a[k], to: b[k] });
  }
  for (const k of Object.keys(a).sort()) if (!(k in b)) out.unset.push(k);
  return out;
}
