// Compares two trees entry by entry: type, mode, owner, group, size, content, link target, mtime (ns).
import * as fs from "node:fs";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";

function describe(p: Buffer): string {
  const st = fs.lstatSync(p, { bigint: true });
  const kind = st.isFile() ? "f" : st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : st.isFIFO() ? "p" : "?";
  const extra =
    kind === "f" ? createHash("sha1").update(fs.readFileSync(p)).digest("hex") : kind === "l" ? fs.readlinkSync(p, { encoding: "buffer" }).toString("latin1") : "";
  return `${kind} ${(st.mode & 0o7777n).toString(8)} ${st.uid}:${st.gid} ${kind === "d" ? "" : st.size} ${st.mtimeNs} ${extra}`;
}

function walk(root: Buffer, rel: Buffer, out: Map<string, string>, skip: (rel: string) => boolean): void {
  for (const name of fs.readdirSync(Buffer.concat([root, rel]), { encoding: "buffer" })) {
    const r = Buffer.concat([rel, Buffer.from("/"), name]);
    const key = r.toString("latin1");
    if (skip(key)) continue;
    const p = Buffer.concat([root, r]);
    out.set(key, describe(p));
    if (fs.lstatSync(p).isDirectory()) walk(root, r, out, skip);
  }
}

/** Differences between the same subtrees of two roots; empty when equal entry by entry. */
export function treeDiff(a: string, b: string, subtrees: string[], skip: (rel: string) => boolean = () => false): string[] {
  const diffs: string[] = [];
  for (const sub of subtrees) {
    const ma = new Map<string, string>();
    const mb = new Map<string, string>();
    ma.set(sub, describe(Buffer.from(`${a}${sub}`)));
    mb.set(sub, describe(Buffer.from(`${b}${sub}`)));
    walk(Buffer.from(a), Buffer.from(sub), ma, skip);
    walk(Buffer.from(b), Buffer.from(sub), mb, skip);
    for (const k of new Set([...ma.keys(), ...mb.keys()])) {
      if (ma.get(k) !== mb.get(k)) diffs.push(`${JSON.stringify(k)}: ${ma.get(k) ?? "absent"} | ${mb.get(k) ?? "absent"}`);
    }
  }
  return diffs;
}

/** What rsync would change to make b like a (checksums, times, modes, owners, links, deletions). */
export function rsyncDiff(a: string, b: string, excludes: string[] = []): string {
  return execFileSync("rsync", ["-a", "-H", "-n", "-c", "-i", "--delete", ...excludes.map((e) => `--exclude=${e}`), `${a}/`, `${b}/`]).toString();
}

/** A copy that keeps everything: modes, owners, times to the nanosecond, links, special files. */
export function copyTree(from: string, to: string): void {
  execFileSync("cp", ["-a", `${from}/.`, to]);
}
