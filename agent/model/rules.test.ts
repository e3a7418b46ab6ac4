import { test } from "node:test";
import assert from "node:assert/strict";
import { RuleSet, parseSize, type RuleSource } from "./rules.js";

const r = (action: "include" | "exclude", pattern: string): RuleSource => ({ action, pattern, origin: "t" });

test("the last matching rule on the path or an ancestor decides", () => {
  const rules = new RuleSet([r("include", "/home"), r("exclude", "/home/*/.cache"), r("include", "/home/*/.cache/keep"), r("exclude", "*.o")]);
  assert.equal(rules.explain("home/a/x.C", false).included, true);
  assert.equal(rules.explain("home/a/.cache/pip/y", false).included, false);
  assert.equal(rules.explain("home/a/.cache/keep/z", false).included, true);
  assert.equal(rules.explain("home/a/build/x.o", false).included, false);
  assert.equal(rules.explain("etc/hosts", false).included, false);
  const d = rules.explain("home/a/.cache/pip/y", false);
  assert.equal(d.rule?.pattern, "/home/*/.cache");
  assert.equal(d.matched, "/home/a/.cache");
});

test("a trailing slash matches folders only", () => {
  const rules = new RuleSet([r("include", "/data"), r("exclude", "build/")]);
  assert.equal(rules.explain("data/build", true).included, false);
  assert.equal(rules.explain("data/build", false).included, true);
});

test("the scanner descends into an excluded folder only when a later include can match below it", () => {
  const rules = new RuleSet([r("include", "/etc"), r("include", "/data/*/analysis")]);
  assert.equal(rules.mayIncludeBelow("", -1), true);
  assert.equal(rules.mayIncludeBelow("proc", -1), false);
  assert.equal(rules.mayIncludeBelow("data", -1), true);
  assert.equal(rules.mayIncludeBelow("data/x", -1), true);
  assert.equal(rules.mayIncludeBelow("data/x/other", -1), false);
});

test("sizes read as people write them", () => {
  assert.equal(parseSize("64MiB"), 64 * 1024 * 1024);
  assert.equal(parseSize("1G"), 1024 ** 3);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize("lots"), undefined);
});
