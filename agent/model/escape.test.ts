import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeBytes, escapeText, unescapeBytes, unescapeText } from "./escape.js";

test("every byte string round-trips and the rendering holds no tab, newline or control byte", () => {
  const samples = [
    Buffer.from("plain.txt"),
    Buffer.from("with space and 'quotes\""),
    Buffer.from("tab\there\nnewline\rcr\\backslash"),
    Buffer.from("café-μ"),
    Buffer.from([0x66, 0xff, 0xfe, 0x80, 0x2e]),
    Buffer.from([0x01, 0x7f, 0x1b]),
    Buffer.alloc(0),
  ];
  for (const b of samples) {
    const s = escapeBytes(b);
    assert.ok([...s].every((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f), s);
    assert.deepEqual(unescapeBytes(s), b);
  }
  assert.equal(escapeBytes(Buffer.from("café")), "café");
  assert.equal(escapeBytes(Buffer.from([0x63, 0xe9])), "c\\xe9");
});

test("a malformed escape is refused", () => {
  assert.throws(() => unescapeBytes("bad\\q"));
  assert.throws(() => unescapeBytes("bad\\x4"));
});

test("text values are escaped exactly as their UTF-8 bytes, and round-trip", () => {
  for (const v of ["alice", "", "a b", "back\\slash", "tab\there", "new\nline", "caf\u00e9", "\u007f", "~!@#$%^&*()"]) {
    assert.equal(escapeText(v), escapeBytes(Buffer.from(v)), v);
    assert.equal(unescapeText(escapeText(v)), v);
  }
});
