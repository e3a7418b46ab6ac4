// The same state gives the same snapshot id on any machine: the id is a function of the content,
// metadata, clock and environment, which tests pin through System.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { NodeSystem } from "../agent/platform/system.js";
import { openContext, type Io } from "../agent/cli/io.js";
import { init } from "../agent/core/snapshot.js";
import { cleanup, makeGuest, BASE_FIXTURE } from "./helpers/guest.js";

class PinnedSystem extends NodeSystem {
  now(): Date {
    return new Date("2026-01-02T03:04:05Z");
  }
  hostname(): string {
    return "cernvm-test";
  }
  env(): Record<string, string> {
    return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root", USER: "alice", ROOTSYS: "/opt/root" };
  }
}

function pinDirTimes(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pinDirTimes(path.join(dir, e.name));
  fs.utimesSync(dir, 1_700_000_000, 1_700_000_000);
}

async function baseId(root: string): Promise<string> {
  const io: Io = { sys: new PinnedSystem(), out: () => undefined, err: () => undefined, stderrIsTTY: false, paths: [] };
  const ctx = await openContext(io, { root });
  return (await init(ctx, "main")).id;
}

test("two guests with the same state get the same base snapshot id", async (t) => {
  const a = makeGuest();
  const b = makeGuest({ ...BASE_FIXTURE });
  t.after(() => [a, b].forEach(cleanup));
  pinDirTimes(a);
  pinDirTimes(b);
  const ia = await baseId(a);
  const ib = await baseId(b);
  assert.match(ia, /^[0-9a-f]{40}$/);
  assert.equal(ia, ib);

  const c = makeGuest();
  t.after(() => cleanup(c));
  fs.writeFileSync(`${c}/etc/hosts`, "127.0.0.1 localhost other\n");
  fs.utimesSync(`${c}/etc/hosts`, 1_700_000_000, 1_700_000_000);
  pinDirTimes(c);
  assert.notEqual(await baseId(c), ia);
});
