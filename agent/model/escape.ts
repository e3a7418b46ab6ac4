// Byte-exact, line-safe rendering of names and values (docs/FORMAT.md, "Escaping").
// Valid UTF-8 stays readable; backslash, control bytes and, in names that are not valid UTF-8,
// every byte >= 0x80 become escapes, so any byte string survives a line- and tab-separated file.

const utf8 = new TextDecoder("utf-8", { fatal: true });

function isValidUtf8(b: Buffer): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

const NAMED: Record<number, string> = { 0x5c: "\\\\", 0x09: "\\t", 0x0a: "\\n", 0x0d: "\\r" };

/** Printable ASCII other than backslash: what nearly every name is, and what needs no escape. */
function isPlain(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c < 0x20 || c > 0x7e || c === 0x5c) return false;
  }
  return true;
}

/** The same, for text. */
const PLAIN_TEXT = /^[\x20-\x5b\x5d-\x7e]*$/;

export function escapeBytes(b: Buffer): string {
  if (isPlain(b)) return b.toString("latin1");
  const keepHigh = isValidUtf8(b);
  let plainStart = 0;
  let out = "";
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    const named = NAMED[c];
    if (named === undefined && c >= 0x20 && c !== 0x7f && (c < 0x80 || keepHigh)) continue;
    out += b.subarray(plainStart, i).toString("utf8");
    out += named ?? `\\x${c.toString(16).padStart(2, "0")}`;
    plainStart = i + 1;
  }
  return out + b.subarray(plainStart).toString("utf8");
}

export function unescapeBytes(s: string): Buffer {
  if (!s.includes("\\")) return Buffer.from(s, "utf8");
  const parts: Buffer[] = [];
  let plainStart = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "\\") continue;
    parts.push(Buffer.from(s.slice(plainStart, i), "utf8"));
    const n = s[i + 1];
    if (n === "x") {
      const hex = s.slice(i + 2, i + 4);
      if (!/^[0-9a-f]{2}$/.test(hex)) throw new Error(`bad escape at ${i}`);
      parts.push(Buffer.from([parseInt(hex, 16)]));
      i += 3;
    } else {
      const byte = { "\\": 0x5c, t: 0x09, n: 0x0a, r: 0x0d }[n ?? ""];
      if (byte === undefined) throw new Error(`bad escape at ${i}`);
      parts.push(Buffer.from([byte]));
      i += 1;
    }
    plainStart = i + 1;
  }
  parts.push(Buffer.from(s.slice(plainStart), "utf8"));
  return Buffer.concat(parts);
}

/** A text value (a user or group name, a variable's value) escaped as its UTF-8 bytes are. */
export function escapeText(s: string): string {
  return PLAIN_TEXT.test(s) ? s : escapeBytes(Buffer.from(s));
}

/** The text a value escaped by escapeText stands for. */
export function unescapeText(s: string): string {
  return s.includes("\\") ? unescapeBytes(s).toString() : s;
}
