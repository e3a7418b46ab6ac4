import { test } from "node:test";
import assert from "node:assert/strict";
import { diffPackages, packageKey, parsePackages, renderPackages } from "./packages.js";

test("rpm lines split into name.arch and epoch:version-release, dashes in names included", () => {
  assert.deepEqual(packageKey("rpm", "0:python3-libs-3.9.18-1.el9.x86_64"), { key: "python3-libs.x86_64", version: "0:3.9.18-1.el9" });
  assert.deepEqual(packageKey("rpm", "1:perl-Time-HiRes-1.9764-462.el9.x86_64"), { key: "perl-Time-HiRes.x86_64", version: "1:1.9764-462.el9" });
});

test("added, removed and upgraded packages are told apart", () => {
  const a = parsePackages(renderPackages({ format: "rpm", lines: ["0:root-6.28.0-1.el9.x86_64", "0:gcc-11.4-1.el9.x86_64"] }));
  const b = parsePackages(renderPackages({ format: "rpm", lines: ["0:root-6.30.2-1.el9.x86_64", "0:cmake-3.26-1.el9.x86_64"] }));
  const d = diffPackages(a, b);
  assert.deepEqual(d.added, ["cmake.x86_64 0:3.26-1.el9"]);
  assert.deepEqual(d.removed, ["gcc.x86_64 0:11.4-1.el9"]);
  assert.deepEqual(d.changed, [{ name: "root.x86_64", from: "0:6.28.0-1.el9", to: "0:6.30.2-1.el9" }]);
});
