// A real rpm database in a guest root: tiny noarch packages built with rpmbuild, installed with
// `rpm --root ROOT --dbpath /var/lib/rpm`, the EL location (Debian's rpm defaults to ~/.rpmdb).
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import type { TestContext } from "node:test";
import { cleanup, tempDir } from "./guest.js";

/** Builds a package in a folder of its own, removed when the test `t` ends. */
export function buildRpm(t: TestContext, name: string, version: string): string {
  const top = tempDir("vml-rpmbuild-");
  t.after(() => cleanup(top));
  fs.mkdirSync(path.join(top, "SPECS"), { recursive: true });
  const spec = path.join(top, "SPECS", `${name}.spec`);
  fs.writeFileSync(
    spec,
    [
      `Name: ${name}`,
      `Version: ${version}`,
      "Release: 1",
      "Summary: VML test package",
      "License: MIT",
      "BuildArch: noarch",
      "%description",
      "A package for VML's tests.",
      "%install",
      `mkdir -p %{buildroot}/usr/share/${name}`,
      `echo ${version} > %{buildroot}/usr/share/${name}/version`,
      "%files",
      `/usr/share/${name}/version`,
      "",
    ].join("\n"),
  );
  execFileSync("rpmbuild", ["--define", `_topdir ${top}`, "--quiet", "-bb", spec], { stdio: "pipe" });
  return path.join(top, "RPMS", "noarch", `${name}-${version}-1.noarch.rpm`);
}

export function initRpmDb(root: string): void {
  execFileSync("rpm", ["--root", root, "--dbpath", "/var/lib/rpm", "--initdb"], { stdio: "pipe" });
}

export function rpmInstall(root: string, rpmFile: string, upgrade = false): void {
  execFileSync("rpm", ["--root", root, "--dbpath", "/var/lib/rpm", upgrade ? "-U" : "-i", "--nodeps", "--noscripts", "--ignoreos", "--ignorearch", rpmFile], { stdio: "pipe" });
}
