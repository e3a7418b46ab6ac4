import { test } from "node:test";
import assert from "node:assert/strict";
import { retain, type Candidate } from "./retention.js";

const at = (id: string, iso: string, tags: string[] = [], always?: string): Candidate => ({ id, time: new Date(iso), tags, always });

test("restic-style buckets keep the newest snapshot of each hour, day, week, month", () => {
  const snaps = [
    at("a", "2026-11-20T10:05:00Z"),
    at("b", "2026-11-20T10:45:00Z"),
    at("c", "2026-11-20T11:10:00Z"),
    at("d", "2026-11-21T09:00:00Z", ["paper"]),
    at("e", "2026-11-23T08:00:00Z"),
    at("base", "2026-10-01T00:00:00Z", [], "base snapshot"),
  ];
  const keep = retain(snaps, { last: 1, daily: 2, tags: ["paper"] });
  assert.deepEqual([...keep.keys()].sort(), ["base", "d", "e"]);
  assert.deepEqual(keep.get("e"), ["last 1/1", "daily 2026-11-23"]);
  assert.deepEqual(keep.get("d"), ["tag paper", "daily 2026-11-21"]);
  const hourly = retain(snaps, { hourly: 3 });
  assert.deepEqual([...hourly.keys()].sort(), ["base", "c", "d", "e"]);
  assert.deepEqual(retain(snaps, { weekly: 1 }).get("e"), ["weekly 2026-W48"]);
  assert.deepEqual(retain(snaps, { monthly: 2 }).get("base"), ["base snapshot", "monthly 2026-10"]);
});
