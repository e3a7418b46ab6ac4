// The package set, read from the guest's own package database (rpm or dpkg), never from this host's.
import { createHash } from "node:crypto";
import { VmlError } from "../core/errors.js";
import type { PackageList } from "../model/packages.js";
import type { System } from "../platform/system.js";

export const RPM_DBPATH = "/var/lib/rpm";
const RPM_QF = "%|EPOCH?{%{EPOCH}}:{0}|:%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n";
const DPKG_QF = "${db:Status-Abbrev}\\t${Package}:${Architecture}\\t${Version}\\n";

export type PackageSetting = "auto" | "rpm" | "dpkg" | "none";

export function detectPackageFormat(sys: System, root: string, setting: PackageSetting): "rpm" | "dpkg" | undefined {
  if (setting !== "auto") return setting === "none" ? undefined : setting;
  const r = root === "/" ? "" : root;
  if (sys.exists(`${r}${RPM_DBPATH}/rpmdb.sqlite`) || sys.exists(`${r}${RPM_DBPATH}/Packages`)) return "rpm";
  if (sys.exists(`${r}/var/lib/dpkg/status`)) return "dpkg";
  return undefined;
}

/**
 * What the package database's files look like now (names, sizes, mtimes, inodes, hashed): while it
 * is the same, so is the package set, and the database need not be queried again (rpm takes a good
 * part of a second on a CernVM). Undefined when one of its files changed after `racyAfterNs` (a
 * write within the same clock tick would not show).
 */
export function packageDbStamp(sys: System, root: string, format: "rpm" | "dpkg", racyAfterNs: bigint): string | undefined {
  const r = root === "/" ? "" : root;
  // A query itself touches rpm's lock, SQLite's shared-memory index and Berkeley DB's region files
  // (and the change time of SQLite's empty log: times of change, not of status, tell).
  const files = format === "rpm" ? sys.listFiles(`${r}${RPM_DBPATH}`).filter((f) => !/(^|\/)(\.rpm\.lock|__db\.\d+)$|-shm$/.test(f)) : [`${r}/var/lib/dpkg/status`, ...sys.listFiles(`${r}/var/lib/dpkg/updates`)];
  const h = createHash("sha1").update(format);
  for (const f of files.sort()) {
    const st = sys.lstat(f);
    if (!st) continue;
    if (st.mtimeNs > racyAfterNs) return undefined;
    h.update(`\0${f}\0${st.size}.${st.mtimeNs}.${st.ino}`);
  }
  return h.digest("hex");
}

async function query(sys: System, cmd: string, args: string[]): Promise<string> {
  let res;
  try {
    res = await sys.exec(cmd, args, { env: { ...sys.env(), LC_ALL: "C" } });
  } catch (e) {
    throw new VmlError("CAPTURE_FAILED", `cannot read the package database: ${cmd} is not installed (${(e as Error).message})`);
  }
  if (res.code !== 0) throw new VmlError("CAPTURE_FAILED", `cannot read the package database: ${cmd} failed: ${res.stderr.trim().split("\n")[0]}`);
  return res.stdout.toString();
}

export async function capturePackages(sys: System, root: string, setting: PackageSetting): Promise<PackageList | undefined> {
  const format = detectPackageFormat(sys, root, setting);
  if (format === "rpm") {
    const text = await query(sys, "rpm", ["--root", root, "--dbpath", RPM_DBPATH, "-qa", "--qf", RPM_QF]);
    return { format, lines: text.split("\n").filter(Boolean) };
  }
  if (format === "dpkg") {
    const r = root === "/" ? "" : root;
    const text = await query(sys, "dpkg-query", [`--admindir=${r}/var/lib/dpkg`, "-W", "-f", DPKG_QF]);
    const lines = text
      .split("\n")
      .filter((l) => /^[ih]i/.test(l))
      .map((l) => l.slice(l.indexOf("\t") + 1));
    return { format, lines };
  }
  return undefined;
}
