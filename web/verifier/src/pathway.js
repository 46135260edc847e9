// Pathway definitions (pathway-v1) and their evaluation, as registry/core/pathway.py (definitions)
// and registry/core/stacking.py (components, evaluation) define them (docs/pathways.md): strict
// JSON, the bounds, the JSON Schema registry/schemas/pathway-v1.schema.json (a standalone Ajv
// validator compiled at build time), the strict model's integer fields and the rules a schema
// cannot state; the digest keccak256(DIGEST_DOMAIN ‖ JCS(definition)); what a credential
// contributes (componentOf) and how components meet the requirement tree (evaluate). Errors carry
// Python's `field` (a JSON pointer) and `problem`, and the same message.
import canonicalize from "canonicalize";
import { keccak_256 } from "@noble/hashes/sha3";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils";
import { validatePathway } from "virtual:validators";
import { euElements } from "./elements.js";
import { canonicalIssuerId } from "./identity.js";
import { JsonError, isPlainObject, parseStrict } from "./json.js";

export const DIGEST_DOMAIN = "credential-registry:pathway:v1\u0000";
export const MAX_DEPTH = 16;
export const MAX_NODES = 256;
export const MAX_BYTES = 256 * 1024;
export const MAX_COMPONENTS = 1000;
/** Python's json gives up near its recursion limit ("JSON nested too deeply"). */
const MAX_JSON_DEPTH = 990;
const KIND_KEYS = ["achievement", "allOf", "atLeast", "from"];
const CHILD_KEY = { achievement: null, allOf: "allOf", atLeast: "of", from: "from" };
const KIND_NAMES = { achievement: "achievement", allOf: "allOf", atLeast: "atLeast", from: "credits" };
const KIND_MESSAGE =
  'a requirement has exactly one of "achievement" (with "issuers"), "allOf", "atLeast" (with "of") ' +
  'or "from" (with "credits")';
const DIGEST_RE = /^0x[0-9a-f]{64}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** registry.errors.InvalidInput: `field` names where, `problem` says what; message "field: problem". */
export class InvalidInput extends Error {
  constructor(field, problem) {
    super(field ? `${field}: ${problem}` : problem);
    this.name = "InvalidInput";
    this.field = field;
    this.problem = problem;
    this.code = "invalid_input";
  }
}

/** registry.core.pathway.InvalidPathway: a malformed or contradictory definition. */
export class InvalidPathway extends InvalidInput {
  constructor(field, problem) {
    super(field, problem);
    this.name = "InvalidPathway";
    this.code = "invalid_pathway";
  }
}

const has = (o, k) => isPlainObject(o) && Object.prototype.hasOwnProperty.call(o, k);
const get = (o, k) => (has(o, k) ? o[k] : undefined);

/** Python's repr() of a JSON value (str quoting, True/False/None, lists and dicts). */
export function pyRepr(v) {
  if (typeof v === "string") {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    return q + v.replace(/\\/g, "\\\\").split(q).join("\\" + q).replace(/\n/g, "\\n").replace(/\t/g, "\\t") + q;
  }
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (typeof v === "object") return `{${Object.keys(v).map((k) => `${pyRepr(k)}: ${pyRepr(v[k])}`).join(", ")}}`;
  return String(v);
}

// -- numbers as Python writes them -----------------------------------------------------------

/** Python's round(x, 6): correctly rounded, ties to even (a tie is x = m/128 with m odd). */
export function round6(x) {
  const scaled = x * 128;
  if (Number.isInteger(scaled) && scaled % 2 !== 0 && Math.abs(x) < 1e15) {
    const s7 = x.toFixed(7);
    const down = s7.slice(0, -1);
    if (Number(down.at(-1)) % 2 === 0) return Number(down);
    return Number((x + (x < 0 ? -5e-7 : 5e-7)).toFixed(6));
  }
  return Number(x.toFixed(6));
}

/** f"{value:.6f}".rstrip("0").rstrip("."): credits as people write them (5, 2.5). */
export function num(value) {
  return round6(value).toFixed(6).replace(/0+$/, "").replace(/\.$/, "");
}

/** f"{value:g}". */
export function pyG(value) {
  if (value === 0) return "0";
  const exp = Math.floor(Math.log10(Math.abs(value)));
  if (exp < -4 || exp >= 6) {
    const [m, e] = value.toExponential(5).split("e");
    const mant = m.includes(".") ? m.replace(/0+$/, "").replace(/\.$/, "") : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const p = value.toPrecision(6);
  return p.includes(".") ? p.replace(/0+$/, "").replace(/\.$/, "") : p;
}

/** math.fsum: the correctly rounded sum (Shewchuk's partials, as Python's msum recipe). */
export function fsum(values) {
  const partials = [];
  for (let x of values) {
    let i = 0;
    for (let y of partials) {
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  let n = partials.length;
  let hi = 0;
  if (n > 0) {
    hi = partials[--n];
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = partials[--n];
      hi = x + y;
      const yr = hi - x;
      lo = y - yr;
      if (lo) break;
    }
    if (n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
  }
  return hi;
}

// -- loading ----------------------------------------------------------------------------------

const esc = (t) => String(t).replace(/~/g, "~0").replace(/\//g, "~1");

/** Strict JSON of a definition (text, bytes or a JSON object): {value, floats}. */
function parse(data) {
  let text;
  if (typeof data === "string") {
    if (LONE_SURROGATE.test(data)) throw new InvalidPathway("", "the text is not valid Unicode (lone surrogate)");
    if (utf8ToBytes(data).length > MAX_BYTES) {
      throw new InvalidPathway("", `a pathway definition larger than ${MAX_BYTES} bytes`);
    }
    text = data;
  } else if (data instanceof Uint8Array || data instanceof ArrayBuffer) {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    if (bytes.length > MAX_BYTES) throw new InvalidPathway("", `a pathway definition larger than ${MAX_BYTES} bytes`);
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new InvalidPathway("", "a pathway definition is not UTF-8 text");
    }
  } else if (isPlainObject(data)) {
    return parse(JSON.stringify(data));
  } else {
    throw new InvalidPathway("", "not a JSON document: expected text, bytes or a JSON object");
  }
  try {
    return parseStrict(text.replace(/^\ufeff/, ""), MAX_JSON_DEPTH);
  } catch (exc) {
    if (!(exc instanceof JsonError)) throw exc;
    let message = exc.message;
    const duplicate = /^duplicate JSON object key (".*")$/s.exec(message);
    if (duplicate) message = `duplicate JSON object key ${pyRepr(JSON.parse(duplicate[1]))}`;
    else if (message.startsWith("JSON nested deeper")) message = "JSON nested too deeply";
    throw new InvalidPathway("", message);
  }
}

/** Before the schema: bounds on the tree and one kind per requirement (tolerant of the rest). */
function checkShape(doc) {
  const stack = [["/requirements", 1, get(doc, "requirements")]];
  let count = 0;
  while (stack.length) {
    const [where, depth, node] = stack.pop();
    if (!isPlainObject(node)) continue;
    count += 1;
    if (count > MAX_NODES) throw new InvalidPathway(where, `a pathway has at most ${MAX_NODES} requirements`);
    if (depth > MAX_DEPTH) throw new InvalidPathway(where, `requirements nest at most ${MAX_DEPTH} levels deep`);
    const kinds = KIND_KEYS.filter((k) => has(node, k));
    if (kinds.length !== 1) {
      throw new InvalidPathway(where, `${KIND_MESSAGE}; found ${kinds.length ? pyRepr(kinds) : "none"}`);
    }
    const key = CHILD_KEY[kinds[0]];
    const children = key ? get(node, key) : undefined;
    if (Array.isArray(children)) {
      for (let i = children.length - 1; i >= 0; i--) stack.push([`${where}/${key}/${i}`, depth + 1, children[i]]);
    }
  }
}

const WHAT = { issuers: "issuer", allOf: "requirement", of: "requirement", from: "requirement" };

function at(doc, pointer) {
  let here = doc;
  for (const part of pointer.split("/").slice(1)) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    here = Array.isArray(here) ? here[Number(key)] : get(here, key);
  }
  return here;
}

/** The first schema error, worded as the `jsonschema` package words it. */
function schemaError(doc) {
  if (validatePathway(doc)) return null;
  const err = validatePathway.errors[0];
  const path = err.instancePath;
  const value = at(doc, path);
  const p = err.params || {};
  const last = path.split("/").at(-1);
  let message;
  switch (err.keyword) {
    case "required":
      message = `${pyRepr(p.missingProperty)} is a required property`;
      break;
    case "additionalProperties":
      message = `Additional properties are not allowed (${pyRepr(p.additionalProperty)} was unexpected)`;
      break;
    case "type":
      message = `${pyRepr(value)} is not of type ${pyRepr(p.type)}`;
      break;
    case "const":
      message = `${pyRepr(p.allowedValue)} was expected`;
      break;
    case "pattern":
      message = `${pyRepr(value)} does not match ${pyRepr(p.pattern)}`;
      break;
    case "minLength":
      message = p.limit === 1 ? `${pyRepr(value)} should be non-empty` : `${pyRepr(value)} is too short`;
      break;
    case "maxLength":
      message = `${pyRepr(value)} is too long`;
      break;
    case "minItems":
      message =
        Array.isArray(value) && value.length === 0 && last in WHAT
          ? `is empty: list at least one ${WHAT[last]}`
          : `${pyRepr(value)} should be non-empty`;
      break;
    case "maxItems":
      message = `${pyRepr(value)} is too long`;
      break;
    case "uniqueItems":
      message = `${pyRepr(value)} has non-unique elements`;
      break;
    case "minimum":
      message = `${pyRepr(value)} is less than the minimum of ${p.limit}`;
      break;
    case "exclusiveMinimum":
      message = `${pyRepr(value)} is less than or equal to the minimum of ${p.limit}`;
      break;
    case "maximum":
      message = `${pyRepr(value)} is greater than the maximum of ${p.limit}`;
      break;
    default:
      message = `${pyRepr(value)} is not valid (${err.message})`;
  }
  return new InvalidPathway(path, message.length > 300 ? message.slice(0, 300) + "..." : message);
}

/** The strict model's integers (version, eqfLevel, atLeast): `1.0` is not an integer there. */
function modelError(doc, floats) {
  const wanted = ["/version", "/qualification/eqfLevel"];
  for (const [pointer, node] of walk(doc.requirements)) if (has(node, "atLeast")) wanted.push(`${pointer}/atLeast`);
  for (const pointer of wanted) {
    if (floats.has(pointer)) return new InvalidPathway(pointer, "Input should be a valid integer");
  }
  return null;
}

/** (pointer, node, depth, parent id) in pre-order. */
function* walk(root, pointer = "/requirements") {
  const stack = [[pointer, root, 1, null]];
  while (stack.length) {
    const [where, node, depth, parent] = stack.pop();
    yield [where, node, depth, parent];
    const kind = kindOf(node);
    const key = CHILD_KEY[kind];
    const children = key ? node[key] : [];
    for (let i = children.length - 1; i >= 0; i--) stack.push([`${where}/${key}/${i}`, children[i], depth + 1, node.id]);
  }
}

function kindOf(node) {
  return KIND_KEYS.find((k) => has(node, k));
}

function childrenOf(node) {
  const key = CHILD_KEY[kindOf(node)];
  return key ? [key, node[key]] : ["", []];
}

function leavesOf(node) {
  return [...walk(node)].map(([, n]) => n).filter((n) => kindOf(n) === "achievement");
}

/** Most credits the leaves under `node` can count for; null unless every leaf declares credits. */
function maxCredits(node) {
  const declared = leavesOf(node).map((l) => (has(l, "credits") ? l.credits : null));
  return declared.some((c) => c === null) ? null : fsum(declared);
}

function canonical(pointer, value) {
  const c = canonicalIssuerId(value);
  if (c === null) throw new InvalidPathway(pointer, `${pyRepr(value)} is not an issuer identifier`);
  if (c !== value) throw new InvalidPathway(pointer, `${pyRepr(value)} is not a canonical issuer id: write ${pyRepr(c)}`);
}

/** The rules of docs/pathways.md that the schema cannot state; the first broken one throws. */
function checkRules(p) {
  canonical("/owner", p.owner);
  const ids = new Map();
  const pairs = new Map();
  for (const [where, node] of walk(p.requirements)) {
    if (ids.has(node.id)) {
      throw new InvalidPathway(
        `${where}/id`,
        `a requirement id names one requirement: ${pyRepr(node.id)} is used twice (first at ${ids.get(node.id)})`,
      );
    }
    ids.set(node.id, where);
    const kind = kindOf(node);
    if (kind === "achievement") {
      node.issuers.forEach((issuer, k) => {
        canonical(`${where}/issuers/${k}`, issuer);
        const pair = JSON.stringify([node.achievement, issuer]);
        if (pairs.has(pair)) {
          throw new InvalidPathway(
            `${where}/issuers/${k}`,
            `ambiguous: the achievement ${node.achievement} from ${issuer} is also named by the requirement at ` +
              `${pairs.get(pair)}, so one credential could count twice`,
          );
        }
        pairs.set(pair, where);
      });
    } else if (kind === "atLeast" && node.atLeast > node.of.length) {
      throw new InvalidPathway(
        `${where}/atLeast`,
        `can never be met: at least ${node.atLeast} of ${node.of.length} requirement(s)`,
      );
    } else if (kind === "from") {
      const most = maxCredits(node);
      if (most !== null && most < node.credits) {
        throw new InvalidPathway(
          `${where}/credits`,
          `can never be met: ${num(node.credits)} credits, but the achievements under it count for ${num(most)} at most`,
        );
      }
    }
  }
  const most = maxCredits(p.requirements);
  const wanted = get(p.qualification, "credits");
  if (wanted !== undefined && most !== null && most < wanted) {
    throw new InvalidPathway(
      "/qualification/credits",
      `can never be met: ${num(wanted)} credits, but all the achievements of the pathway count for ${num(most)} at most`,
    );
  }
}

/**
 * load_pathway: parse and check a definition (JSON text, bytes or object). Strict JSON, the bounds,
 * the JSON Schema, the model's integers and the rules; the first problem throws InvalidPathway
 * naming its JSON pointer. Returns the definition (a frozen plain object, absent options absent).
 */
export function loadPathway(data) {
  const { value: doc, floats } = parse(data);
  if (!isPlainObject(doc)) throw new InvalidPathway("", "a pathway definition is a JSON object");
  checkShape(doc);
  const problem = schemaError(doc) || modelError(doc, floats);
  if (problem !== null) throw problem;
  checkRules(doc);
  return deepFreeze(doc);
}

function deepFreeze(v) {
  if (v !== null && typeof v === "object") {
    Object.values(v).forEach(deepFreeze);
    Object.freeze(v);
  }
  return v;
}

/** keccak256(DIGEST_DOMAIN ‖ JCS(definition)) as 0x-hex. */
export function pathwayDigest(pathway) {
  const jcs = canonicalize(pathway);
  return "0x" + bytesToHex(keccak_256(utf8ToBytes(DIGEST_DOMAIN + jcs)));
}

/** Every requirement with its JSON pointer, in tree order. */
export function nodesOf(pathway) {
  return [...walk(pathway.requirements)].map(([pointer, node]) => [pointer, node]);
}

// -- components -------------------------------------------------------------------------------

const ECTS_PROBLEM = "must be a finite number of ECTS credits, 0 or more";
const EQF_PROBLEM = "must be an EQF level, a whole number from 1 to 8";
const isEcts = (v) => v === null || v === undefined || (typeof v === "number" && Number.isFinite(v) && v >= 0);
const isEqf = (v) => v === null || v === undefined || (Number.isInteger(v) && v >= 1 && v <= 8);

/**
 * component_of: what a credential document (format v1 or v2) with digest `digest` contributes:
 * {key, achievement_id, issuer_id (canonical), credential_id, digest, credits, eqf_level}.
 */
export function componentOf(key, credential, digest) {
  if (typeof key !== "string" || !key) throw new InvalidInput("key", "must be a non-empty string naming the credential");
  if (!isPlainObject(credential)) throw new InvalidInput(key, "a credential is a JSON object");
  const cid = get(credential, "id");
  if (typeof cid !== "string" || !cid) throw new InvalidInput(`${key}#/id`, "the credential has no id");
  const issuer = get(credential, "issuer");
  const named = isPlainObject(issuer) ? get(issuer, "id") : issuer;
  if (typeof named !== "string") throw new InvalidInput(`${key}#/issuer/id`, "the credential names no issuer");
  const issuerId = canonicalIssuerId(named);
  if (issuerId === null) throw new InvalidInput(`${key}#/issuer/id`, `${pyRepr(named)} is not an issuer identifier`);
  const subject = get(credential, "credentialSubject");
  const achievement = isPlainObject(subject) ? get(subject, "achievement") : undefined;
  if (!isPlainObject(achievement) || typeof get(achievement, "id") !== "string") {
    throw new InvalidInput(`${key}#/credentialSubject/achievement/id`, "the credential names no achievement");
  }
  const eu = euElements(achievement);
  if (!isEcts(eu.ects)) throw new InvalidInput(`${key}#/credentialSubject/achievement/creditsAvailable`, ECTS_PROBLEM);
  if (!isEqf(eu.eqf_level)) throw new InvalidInput(`${key}#/credentialSubject/achievement/eqfLevel`, EQF_PROBLEM);
  if (typeof digest !== "string" || !DIGEST_RE.test(digest.toLowerCase())) {
    throw new InvalidInput(`${key}#digest`, "must be '0x' + 64 hex digits");
  }
  return {
    key,
    achievement_id: achievement.id,
    issuer_id: issuerId,
    credential_id: cid,
    digest: digest.toLowerCase(),
    credits: eu.ects === null || eu.ects === undefined ? null : eu.ects,
    eqf_level: eu.eqf_level ?? null,
  };
}

// -- evaluation -------------------------------------------------------------------------------

function want(leaf, withCredits = false) {
  const issuers = leaf.issuers.length === 1 ? leaf.issuers[0] : "one of " + leaf.issuers.join(", ");
  const named = has(leaf, "name") ? ` (${leaf.name})` : "";
  const worth = withCredits && has(leaf, "credits") ? ` [${num(leaf.credits)} credits]` : "";
  return `achievement ${leaf.achievement}${named} from ${issuers}${worth}`;
}

function describe(node) {
  if (kindOf(node) === "achievement") return want(node);
  return `requirement ${pyRepr(node.id)}` + (has(node, "name") ? ` (${node.name})` : "");
}

/** What a met leaf counts for: min(declared, stated), whichever is given, else 0. */
function counted(leaf, component) {
  if (!has(leaf, "credits")) return component.credits || 0;
  if (component.credits === null) return leaf.credits;
  return Math.min(leaf.credits, component.credits);
}

function run(node, pointer, parent, matched, out) {
  const slot = out.length;
  out.push(null);
  const [key, children] = childrenOf(node);
  const results = children.map((c, i) => run(c, `${pointer}/${key}/${i}`, node.id, matched, out));
  let by = results.flatMap((r) => r.satisfied_by);
  let earned = round6(fsum(results.map((r) => r.credits)));
  let required = null;
  let missing = [];
  const kind = kindOf(node);
  if (kind === "achievement") {
    const component = matched.get(node.id);
    by = component ? [component.key] : [];
    earned = component ? round6(counted(node, component)) : 0;
    missing = component ? [] : [want(node)];
  } else if (kind === "allOf") {
    missing = results.flatMap((r) => r.missing);
  } else if (kind === "atLeast") {
    const need = node.atLeast - results.filter((r) => r.satisfied).length;
    if (need > 0) {
      const open = node.of.filter((c, i) => !results[i].satisfied).map(describe).join("; ");
      missing = [`${need} more of: ${open}`];
    }
  } else {
    required = node.credits;
    if (earned < node.credits) {
      const short = num(node.credits - earned);
      const open = leavesOf(node)
        .filter((leaf) => !matched.has(leaf.id))
        .map((leaf) => want(leaf, true))
        .join("; ");
      missing = [
        open ? `${short} more credits from: ${open}` : `${short} more credits (every achievement under it already counts)`,
      ];
    }
  }
  const result = {
    id: node.id,
    name: has(node, "name") ? node.name : null,
    kind: KIND_NAMES[kind],
    pointer,
    parent,
    satisfied: missing.length === 0,
    satisfied_by: by,
    missing,
    credits: earned,
    credits_required: required,
  };
  out[slot] = result;
  return result;
}

function checkComponents(components) {
  if (!Array.isArray(components)) throw new InvalidInput("components", "must be a list of Components");
  if (components.length > MAX_COMPONENTS) {
    throw new InvalidInput("components", `${components.length} components; at most ${MAX_COMPONENTS} are evaluated`);
  }
  const seen = new Map();
  components.forEach((c, i) => {
    for (const [label, value] of [
      ["key", c.key],
      ["credential id", c.credential_id],
      ["digest", c.digest],
    ]) {
      const k = `${label}:${value}`;
      if (seen.has(k)) {
        throw new InvalidInput(
          `components/${i}`,
          `duplicate component: ${pyRepr(c.key)} has the ${label} of ${pyRepr(seen.get(k))}`,
        );
      }
      seen.set(k, c.key);
    }
  });
}

/**
 * evaluate: how far `components` meet `pathway` (PathwayResult.to_json()). Each component meets at
 * most the one leaf naming its achievement and issuer; the same credential twice throws InvalidInput.
 */
export function evaluate(pathway, components) {
  checkComponents(components);
  const leaves = leavesOf(pathway.requirements);
  const byPair = new Map();
  for (const leaf of leaves) for (const issuer of leaf.issuers) byPair.set(JSON.stringify([leaf.achievement, issuer]), leaf);
  const matched = new Map();
  const unused = [];
  for (const c of components) {
    const leaf = byPair.get(JSON.stringify([c.achievement_id, c.issuer_id]));
    if (leaf === undefined) {
      const from = [...new Set(leaves.filter((l) => l.achievement === c.achievement_id).flatMap((l) => l.issuers))].sort(
        (a, b) => (a < b ? -1 : a > b ? 1 : 0),
      );
      const reason = from.length
        ? `the achievement ${c.achievement_id} counts only from ${from.join(", ")}, not from ${c.issuer_id}`
        : `no requirement names the achievement ${c.achievement_id}`;
      unused.push({ key: c.key, reason, requirement: null });
    } else if (matched.has(leaf.id)) {
      const reason = `requirement ${pyRepr(leaf.id)} is already met by ${pyRepr(matched.get(leaf.id).key)}`;
      unused.push({ key: c.key, reason, requirement: leaf.id });
    } else {
      matched.set(leaf.id, c);
    }
  }
  const nodes = [];
  const root = run(pathway.requirements, "/requirements", null, matched, nodes);
  const total = root.credits;
  const wanted = get(pathway.qualification, "credits") ?? null;
  const missing = [...root.missing];
  if (wanted !== null && total < wanted) {
    missing.push(
      `${num(wanted - total)} more credits in all for the qualification (${num(wanted)} needed, ${num(total)} counted)`,
    );
  }
  const levels = [...matched.values()].map((c) => c.eqf_level).filter((l) => l !== null);
  return {
    pathway_id: pathway.id,
    pathway_version: pathway.version,
    pathway_digest: pathwayDigest(pathway),
    complete: missing.length === 0,
    total_credits: total,
    credits_required: wanted,
    max_eqf_level: levels.length ? Math.max(...levels) : null,
    missing,
    nodes,
    unused,
  };
}
