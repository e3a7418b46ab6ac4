import { test } from "node:test";
import assert from "node:assert/strict";
import { formatMtime, parseMtime, parseShard, renderShard, shardsOf, SHARD_SPLIT, type Entry } from "./manifest.js";

const entry = (name: Buffer, over: Partial<Entry> = {}): Entry => ({
  name,
  type: "f",
  mode: 0o644,
  uid: 0,
  gid: 0,
  user: "root",
  group: "root",
  mtimeNs: 1_700_000_000_123_456_789n,
  size: 3,
  ...over,
});

test("a shard renders sorted by bytes and parses back exactly", () => {
  const entries = [
    entry(Buffer.from("b\tc")),
    entry(Buffer.from([0xff, 0x41]), { type: "l", link: Buffer.from("../x y") }),
    entry(Buffer.from("a"), { mode: 0o4755, uid: 4242, gid: 4343, user: "", group: "" }),
    entry(Buffer.from("h"), { type: "h", link: Buffer.from("dir/a") }),
  ];
  const text = renderShard({ dir: Buffer.from("dir\nwith newline"), entries });
  assert.equal(text.split("\n").length, 2 + 4 + 1);
  const back = parseShard(text);
  assert.deepEqual(back.dir, Buffer.from("dir\nwith newline"));
  assert.deepEqual(
    back.entries.map((e) => e.name),
    [Buffer.from("a"), Buffer.from("b\tc"), Buffer.from("h"), Buffer.from([0xff, 0x41])],
  );
  assert.equal(back.entries[0].mode, 0o4755);
  assert.equal(back.entries[0].mtimeNs, 1_700_000_000_123_456_789n);
  assert.equal(renderShard(back), text);
});

test("a big directory is split into buckets so one edit rewrites a small shard", () => {
  const many = Array.from({ length: SHARD_SPLIT + 1 }, (_, i) => entry(Buffer.from(`f${i}`)));
  const shards = shardsOf(Buffer.from("big"), many);
  assert.ok(shards.length > 200);
  assert.equal(shards.reduce((n, s) => n + s.entries.length, 0), many.length);
  assert.ok(Math.max(...shards.map((s) => s.entries.length)) < 20);
});

test("a damaged shard is refused", () => {
  assert.throws(() => parseShard("#vml-manifest 1\ndir\t.\nname\tz\t0644\n"));
  assert.throws(() => parseShard("something else\n"));
});

test("times before and after 1970 render and parse back to the nanosecond; malformed ones are refused", () => {
  for (const ns of [0n, 1n, 999_999_999n, 1_700_000_000_123_456_789n, -1n, -1_000_000_000n, -1_500_000_000n, -86_400_000_000_001n]) {
    assert.equal(parseMtime(formatMtime(ns)), ns, String(ns));
  }
  assert.equal(parseMtime("-5.000000001"), -4_999_999_999n);
  for (const bad of ["1.5", "1", "a.000000000", "1.0000000001", ""]) assert.throws(() => parseMtime(bad), bad);
});
