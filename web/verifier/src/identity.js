// Canonical issuer identifiers, as registry/core/identity.py defines them (did:web with an
// IDNA/UTS #46 ASCII host via the `tr46` package, `%3A<port>`, ':'-separated path segments; a bare
// domain or an http(s) URL becomes that did:web; other DIDs keep their form), and the identity
// rule of registry/verify/identity.py.
import { toASCII } from "tr46";

class Refused extends Error {}

// Python's str.isspace() characters.
const SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const STRIP = /^[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;
const METHOD_RE = /^[a-z0-9]+$/;
const MSI_RE = /^(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+(?::(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+)*$/;
const PORT_RE = /^[0-9]{1,5}$/;
const HOST_PORT_RE = /^([^\n]+?)%3[Aa]([^\n]*)$/;
const SEGMENT_SAFE = "-._~!$&'()*+,;=@";

export function pyStrip(s) {
  return s.replace(STRIP, "");
}

/** urllib.parse.unquote: %XX runs decoded as UTF-8; `strict` throws on invalid UTF-8. */
function unquote(text, strict) {
  if (!text.includes("%")) return text;
  const decoder = new TextDecoder("utf-8", { fatal: strict, ignoreBOM: true });
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(3 * i + 1, 3 * i + 3), 16);
    try {
      return decoder.decode(bytes);
    } catch {
      throw new Refused("invalid percent-encoded UTF-8");
    }
  });
}

/** urllib.parse.quote(text, safe=SEGMENT_SAFE). */
function quote(text) {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~-]/.test(ch) || SEGMENT_SAFE.includes(ch)) out += ch;
    else out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function host(h) {
  h = h.replace(/\.+$/, "");
  if (!h) throw new Refused("no domain name");
  const ascii = toASCII(h, {
    checkHyphens: true,
    checkBidi: true,
    checkJoiners: true,
    useSTD3ASCIIRules: true,
    verifyDNSLength: true,
    transitionalProcessing: false,
  });
  if (ascii === null) throw new Refused(`the domain is not a valid domain name`);
  return ascii;
}

function port(p) {
  if (!PORT_RE.test(p) || !(Number(p) > 0 && Number(p) < 65536)) throw new Refused(`invalid port`);
  return Number(p);
}

function segment(raw) {
  const text = unquote(raw, true);
  if (!text || text.includes("/") || text.includes(":") || SPACE.test(text)) throw new Refused("invalid path segment");
  return quote(text);
}

function didWeb(h, p, path) {
  const ident = host(h) + (p !== null ? `%3A${p}` : "");
  return ["did:web", ident, ...path.map(segment)].join(":");
}

function partition(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s, "", ""] : [s.slice(0, i), sep, s.slice(i + sep.length)];
}

function fromDid(text) {
  const [scheme, , rest] = partition(text, ":");
  const [method, sep, msi] = partition(rest, ":");
  if (scheme.toLowerCase() !== "did" || !sep) throw new Refused("a DID is did:<method>:<identifier>");
  if (method.toLowerCase() === "web") {
    const parts = msi.split(":");
    if (!msi || parts.some((x) => !x)) throw new Refused("did:web needs a domain and no empty segment");
    const found = HOST_PORT_RE.exec(parts[0]);
    const [h, p] = found ? [found[1], found[2]] : [parts[0], null];
    return didWeb(unquote(h, false), p ? port(p) : null, parts.slice(1));
  }
  if (!METHOD_RE.test(method)) throw new Refused("the DID method name must be lower-case letters and digits");
  if (!MSI_RE.test(msi)) throw new Refused("the method-specific identifier has characters DID Core does not allow");
  return `did:${method}:${msi}`;
}

// urllib.parse.urlsplit, as far as canonical_issuer_id reads it.
function urlsplit(url) {
  url = url.replace(/^[\x00-\x20]+/, "").replace(/[\t\r\n]/g, "");
  let scheme = "";
  const i = url.indexOf(":");
  if (i > 0 && /^[A-Za-z]$/.test(url[0]) && /^[A-Za-z0-9+.-]*$/.test(url.slice(0, i))) {
    scheme = url.slice(0, i).toLowerCase();
    url = url.slice(i + 1);
  }
  let netloc = "";
  if (url.startsWith("//")) {
    let end = url.length;
    for (const c of "/?#") {
      const w = url.indexOf(c, 2);
      if (w >= 0) end = Math.min(end, w);
    }
    netloc = url.slice(2, end);
    url = url.slice(end);
    if ((netloc.includes("[") && !netloc.includes("]")) || (netloc.includes("]") && !netloc.includes("["))) {
      throw new Refused("Invalid IPv6 URL");
    }
  }
  let fragment = "";
  let query = "";
  if (url.includes("#")) [url, , fragment] = partition(url, "#");
  if (url.includes("?")) [url, , query] = partition(url, "?");
  return { scheme, netloc, path: url, query, fragment };
}

function fromUrl(text) {
  const url = urlsplit(text.includes("://") ? text : "https://" + text);
  if (url.scheme !== "http" && url.scheme !== "https") {
    throw new Refused("only a DID, a domain or an http(s) URL names an issuer");
  }
  const at = url.netloc.lastIndexOf("@");
  const userinfo = at >= 0 ? url.netloc.slice(0, at) : null;
  const hostinfo = at >= 0 ? url.netloc.slice(at + 1) : url.netloc;
  const username = userinfo === null ? null : partition(userinfo, ":")[0];
  const password = userinfo === null || !userinfo.includes(":") ? null : partition(userinfo, ":")[2];
  if (url.query || url.fragment || username || password) {
    throw new Refused("a URL naming an issuer has no query, fragment or credentials");
  }
  let hostname;
  let portText;
  const [, openBr, bracketed] = partition(hostinfo, "[");
  if (openBr) {
    const [h, , after] = partition(bracketed, "]");
    hostname = h;
    portText = partition(after, ":")[2];
  } else {
    [hostname, , portText] = partition(hostinfo, ":");
  }
  let p = null;
  if (portText) {
    if (!/^[0-9]+$/.test(portText)) throw new Refused("invalid port");
    p = Number(portText);
    if (p > 65535) throw new Refused("invalid port");
  }
  if (p !== null && p < 1) throw new Refused("invalid port");
  hostname = hostname.toLowerCase();
  return didWeb(hostname, p, url.path.split("/").filter((x) => x));
}

/** The canonical form of an issuer identifier, or null when it names no issuer. */
export function canonicalIssuerId(value) {
  try {
    const text = pyStrip(value);
    if (!text) throw new Refused("empty");
    if (SPACE.test(text)) throw new Refused("contains whitespace");
    if (text.slice(0, 4).toLowerCase() === "did:") return fromDid(text);
    return fromUrl(text);
  } catch (exc) {
    if (exc instanceof Refused) return null;
    throw exc;
  }
}

/** issuer_did: the canonical form, or the trimmed string of a legacy URI. */
export function issuerDid(uri) {
  const canonical = canonicalIssuerId(uri);
  return canonical === null ? pyStrip(uri) : canonical;
}

/** named_identity: the canonical identity a credential names ("" when it names none). */
export function namedIdentity(credential) {
  const named = "issuer" in credential ? credential.issuer : {};
  const value = named !== null && typeof named === "object" && !Array.isArray(named) ? named.id : named;
  return typeof value === "string" ? issuerDid(value) : "";
}

function pyReprStr(s) {
  return "'" + String(s).replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}

function label(entry) {
  return `#${entry.issuerId} ${entry.name} (${pyReprStr(entry.uri)})`;
}

/**
 * Why `identity` does not belong to `anchoring` alone (null when it does). `owner`: the entry
 * admitted with exactly `identity` (0: none). `directory`: {entry(id), claimants(identity)}
 * reading the chain on demand (async).
 */
export async function identityConflict(identity, anchoring, owner, directory) {
  if (owner !== 0 && owner !== anchoring.issuerId) {
    const other = await directory.entry(owner);
    return (
      `the identity ${identity} belongs to directory entry ${label(other)}, not to entry ` +
      `${label(anchoring)} whose key anchored this batch: one identity, one entry`
    );
  }
  if (owner === 0) {
    const claimants = await directory.claimants(identity);
    if (claimants.length > 1) {
      const names = claimants.map(label).join(", ");
      return `several directory entries claim ${identity}: ${names}; the registry cannot tell which one issued it`;
    }
  }
  return null;
}
