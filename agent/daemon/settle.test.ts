import { test } from "node:test";
import assert from "node:assert/strict";
import { dueAt } from "./settle.js";

const c = { settle: 30_000, maxDelay: 600_000, minInterval: 60_000 };

test("a snapshot waits for quiet, but never longer than the maximum delay", () => {
  assert.equal(dueAt({}, c), undefined);
  assert.equal(dueAt({ firstHint: 0, lastHint: 10_000 }, c), 40_000);
  assert.equal(dueAt({ firstHint: 0, lastHint: 590_000 }, c), 600_000);
});

test("two automatic snapshots are never closer than the minimum interval", () => {
  assert.equal(dueAt({ firstHint: 100_000, lastHint: 100_000, lastSnapshot: 90_000 }, c), 150_000);
  assert.equal(dueAt({ firstHint: 100_000, lastHint: 100_000, lastSnapshot: 0 }, c), 130_000);
});
