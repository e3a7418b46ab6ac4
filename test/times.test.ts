// Modification times to the nanosecond, set by a helper process while the restore goes on writing.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { NodeSystem } from "../agent/platform/system.js";
import { pythonTimeWriter } from "../agent/platform/time-writer.js";
import { cleanup, tempDir } from "./helpers/guest.js";

const NS = 1_700_000_000_123_456_789n;

class NoPythonSystem extends NodeSystem {
  protected python(): string {
    return "/nonexistent/python3";
  }
}

function files(dir: string): { file: Buffer; link: Buffer; moved: Buffer } {
  fs.writeFileSync(`${dir}/f`, "x");
  fs.writeFileSync(`${dir}/target`, "t");
  fs.symlinkSync("target", `${dir}/link`);
  fs.writeFileSync(`${dir}/before-move`, "m");
  return { file: Buffer.from(`${dir}/f`), link: Buffer.from(`${dir}/link`), moved: Buffer.from(`${dir}/before-move`) };
}

test("times are exact to the nanosecond, symlinks not followed, settled before a path moves", async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const p = files(dir);
  const w = new NodeSystem().timeWriter();
  w.set([{ path: p.moved, mtimeNs: NS }]);
  await w.settle();
  fs.renameSync(p.moved, `${dir}/after-move`);
  w.set([
    { path: p.file, mtimeNs: NS + 1n },
    { path: p.link, mtimeNs: NS + 2n },
  ]);
  assert.equal(await w.close(), true);
  const mt = (f: string) => fs.lstatSync(f, { bigint: true }).mtimeNs;
  assert.equal(mt(`${dir}/after-move`), NS);
  assert.equal(mt(`${dir}/f`), NS + 1n);
  assert.equal(mt(`${dir}/link`), NS + 2n);
  assert.notEqual(mt(`${dir}/target`), NS + 2n, "the symlink's target keeps its own time");
});

test("without python3 times are kept to the microsecond, and the writer says so", async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  const p = files(dir);
  const w = new NoPythonSystem().timeWriter();
  w.set([{ path: p.file, mtimeNs: NS }]);
  await w.settle();
  w.set([{ path: p.link, mtimeNs: NS }]);
  assert.equal(await w.close(), false);
  assert.equal(fs.lstatSync(`${dir}/f`, { bigint: true }).mtimeNs / 1000n, NS / 1000n);
  assert.equal(fs.lstatSync(`${dir}/link`, { bigint: true }).mtimeNs / 1000n, NS / 1000n);
});

test("the system's python3 sets the times, whatever Python an analysis setup puts first on PATH", async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  // A broken analysis Python first on PATH, and a PYTHONPATH whose site customisation fails.
  fs.mkdirSync(`${dir}/bin`);
  fs.writeFileSync(`${dir}/bin/python3`, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  fs.writeFileSync(`${dir}/sitecustomize.py`, "raise SystemExit(1)\n");
  class AnalysisShell extends NodeSystem {
    env(): Record<string, string> {
      return { PATH: `${dir}/bin:/usr/bin:/bin`, PYTHONPATH: dir };
    }
  }
  const p = files(dir);
  const w = new AnalysisShell().timeWriter();
  w.set([{ path: p.file, mtimeNs: NS }]);
  assert.equal(await w.close(), true);
  assert.equal(fs.lstatSync(`${dir}/f`, { bigint: true }).mtimeNs, NS);
});

test("several helpers share a work area's times: each exact, a folder renamed after a settle and made anew is the new one", async (t) => {
  const dir = tempDir();
  t.after(() => cleanup(dir));
  // Enough names to fill several batches, over folders that fall to different helpers.
  const paths: Buffer[] = [];
  for (let d = 0; d < 40; d++) {
    fs.mkdirSync(`${dir}/run${d}`);
    for (let f = 0; f < 40; f++) {
      fs.writeFileSync(`${dir}/run${d}/file-with-a-longish-name-${f}.txt`, "x");
      paths.push(Buffer.from(`${dir}/run${d}/file-with-a-longish-name-${f}.txt`));
    }
  }
  const w = pythonTimeWriter("/usr/bin/python3", {}, 3);
  w.set(paths.map((path, i) => ({ path, mtimeNs: NS + BigInt(i) })));
  await w.settle();
  // The folder a helper last looked in moves away and another takes its name.
  fs.renameSync(`${dir}/run39`, `${dir}/moved`);
  fs.mkdirSync(`${dir}/run39`);
  fs.writeFileSync(`${dir}/run39/new`, "n");
  w.set([{ path: Buffer.from(`${dir}/run39/new`), mtimeNs: NS - 5n }, { path: Buffer.from(`${dir}/run0`), mtimeNs: NS - 7n }]);
  assert.equal(await w.close(), true);
  const mt = (f: string) => fs.lstatSync(f, { bigint: true }).mtimeNs;
  paths.forEach((p, i) => assert.equal(mt(p.toString().replace("/run39/", "/moved/")), NS + BigInt(i), p.toString()));
  assert.equal(mt(`${dir}/run39/new`), NS - 5n);
  assert.equal(mt(`${dir}/run0`), NS - 7n);
});
