// Strict JSON parser with the rules of registry/core/credfile.py `_load`: Python's json module
// grammar (RFC 8259, no NaN/Infinity), duplicate member names refused, number literals of at most
// 64 characters that fit a finite double. Objects are created without a prototype, so member
// names such as "__proto__" or "toString" are ordinary data. The parser also records, per JSON
// pointer, which numbers were written as floats (Python parses them as float, not int) and which
// integers lie outside the safe range that RFC 8785 can represent.

export const MAX_NUMBER_CHARS = 64;
export const MAX_DEPTH = 32;
const MAX_SAFE = 2n ** 53n - 1n;

export class JsonError extends Error {}

function esc(token) {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/**
 * Parse `text`; returns {value, floats: Set<pointer>, unsafeInts: Set<pointer>}.
 * Throws JsonError with a readable message. Nesting deeper than `maxDepth` containers fails
 * early (credfile refuses anything deeper than 32 levels anyway).
 */
export function parseStrict(text, maxDepth = MAX_DEPTH + 1) {
  let i = 0;
  const n = text.length;
  const floats = new Set();
  const unsafeInts = new Set();

  function fail(msg) {
    let line = 1;
    let col = 1;
    for (let k = 0; k < i && k < n; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    throw new JsonError(`not valid JSON (line ${line}, column ${col}): ${msg}`);
  }
  function ws() {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  }
  function str() {
    // at opening quote
    i++;
    let out = "";
    let start = i;
    for (;;) {
      if (i >= n) fail("Unterminated string starting at");
      const c = text.charCodeAt(i);
      if (c === 34) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail("Invalid control character at");
      if (c === 92) {
        out += text.slice(start, i);
        const e = text[i + 1];
        if (e === undefined) fail("Unterminated string starting at");
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }[e];
        if (simple !== undefined) {
          out += simple;
          i += 2;
        } else if (e === "u") {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("Invalid \\uXXXX escape");
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else fail("Invalid \\escape");
        start = i;
        continue;
      }
      i++;
    }
  }
  function num(path) {
    const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
    m.lastIndex = i;
    const found = m.exec(text);
    if (!found) fail("Expecting value");
    const lit = found[0];
    i += lit.length;
    const isFloat = found[1] !== undefined || found[2] !== undefined;
    if (lit.length > MAX_NUMBER_CHARS) {
      throw new JsonError(`a number has more than ${MAX_NUMBER_CHARS} ${isFloat ? "characters" : "digits"}`);
    }
    const value = Number(lit);
    if (isFloat) {
      if (!Number.isFinite(value)) throw new JsonError(`the number ${lit} is out of range`);
      floats.add(path);
      return value;
    }
    const big = BigInt(lit);
    if (big > MAX_SAFE || big < -MAX_SAFE) unsafeInts.add(path);
    return value === 0 ? 0 : value; // Python's int("-0") is 0
  }
  function value(path, depth) {
    ws();
    if (i >= n) fail("Expecting value");
    const c = text[i];
    if (c === "{") {
      if (depth >= maxDepth) throw new JsonError(`JSON nested deeper than ${MAX_DEPTH} levels`);
      i++;
      const obj = Object.create(null);
      const seen = new Set();
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("Expecting property name enclosed in double quotes");
        const key = str();
        ws();
        if (text[i] !== ":") fail("Expecting ':' delimiter");
        i++;
        const v = value(path + "/" + esc(key), depth + 1);
        if (seen.has(key)) throw new JsonError(`duplicate JSON object key ${JSON.stringify(key)}`);
        seen.add(key);
        obj[key] = v;
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return obj;
        }
        fail("Expecting ',' delimiter");
      }
    }
    if (c === "[") {
      if (depth >= maxDepth) throw new JsonError(`JSON nested deeper than ${MAX_DEPTH} levels`);
      i++;
      const arr = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(path + "/" + arr.length, depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return arr;
        }
        fail("Expecting ',' delimiter");
      }
    }
    if (c === '"') return str();
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    if (text.startsWith("NaN", i)) throw new JsonError("NaN is not valid JSON");
    if (text.startsWith("Infinity", i)) throw new JsonError("Infinity is not valid JSON");
    if (text.startsWith("-Infinity", i)) throw new JsonError("-Infinity is not valid JSON");
    return num(path);
  }
  const v = value("", 0);
  ws();
  if (i !== n) fail("Extra data");
  return { value: v, floats, unsafeInts };
}

export function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
