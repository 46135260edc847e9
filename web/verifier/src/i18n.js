// The page's words in the reader's language. English is the source language: each msgid is the
// English text, and a language's catalog ({msgid: msgstr}, registry/locales/<lang>/LC_MESSAGES/
// verifier.po) comes with the page's configuration (registry/verify/page.py render_page). A msgid
// without a translation is shown as it is, so a missing entry degrades to English, never to a key.

let catalog = {};

/** Use `messages` ({msgid: msgstr}) from now on; an absent or malformed catalog means English. */
export function setCatalog(messages) {
  catalog = messages && typeof messages === "object" && !Array.isArray(messages) ? messages : {};
}

/** The translation of `msgid` with its `{name}` placeholders filled from `params`. */
export function t(msgid, params = {}) {
  const found = Object.hasOwn(catalog, msgid) && typeof catalog[msgid] === "string" ? catalog[msgid] : "";
  const text = found || msgid;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

/** Translate the static text of the page: every element marked `data-i18n` (its text is the
 * msgid, whitespace collapsed) and `lang` on the root element. */
export function translatePage(lang, root = document) {
  if (lang) root.documentElement.lang = lang;
  for (const node of root.querySelectorAll("[data-i18n]")) {
    const msgid = node.dataset.i18n || node.textContent.replace(/\s+/g, " ").trim();
    node.dataset.i18n = msgid; // translating twice starts from the English again
    node.textContent = t(msgid);
  }
}

// -- the checks' reasons ------------------------------------------------------------------
// A reason is English text made from a template with named placeholders (registry/locales/
// reasons.py); the table {English template: translation} is the `messages` catalog's entries of
// context "reason", handed over with the page's configuration (`reasons`). A reason is matched
// against the templates (the most literal text first), its placeholder values translated in turn
// when they are themselves reasons or fixed phrases (a revocation reason, a kind), exactly as
// registry.locales.reasons.localize does; a reason matching none is shown as it is (English).

let reasonTable = {};
let reasonPatterns = null;
const MAX_DEPTH = 3;

/** Use `table` ({English template: translation}) for the reasons from now on (absent: English). */
export function setReasons(table) {
  reasonTable = table && typeof table === "object" && !Array.isArray(table) ? table : {};
  reasonPatterns = null;
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const PLACEHOLDER = /\{(\w+)(?:![rsa])?(?::[^{}]*)?\}/g;

function patterns() {
  if (reasonPatterns) return reasonPatterns;
  const found = [];
  for (const [english, translated] of Object.entries(reasonTable)) {
    if (typeof translated !== "string" || !translated) continue;
    const names = [];
    let source = "";
    let literal = 0;
    let last = 0;
    for (const m of english.matchAll(PLACEHOLDER)) {
      const text = english.slice(last, m.index);
      source += escapeRegExp(text);
      literal += text.length;
      source += names.includes(m[1]) ? `\\k<${m[1]}>` : `(?<${m[1]}>[\\s\\S]+?)`;
      names.push(m[1]);
      last = m.index + m[0].length;
    }
    if (!names.length) continue;
    source += escapeRegExp(english.slice(last));
    literal += english.length - last;
    found.push({ literal, pattern: new RegExp(`^${source}$`), translated: translated.replace(PLACEHOLDER, "{$1}") });
  }
  found.sort((a, b) => b.literal - a.literal);
  reasonPatterns = found;
  return found;
}

/** A check's reason (English text) in the page's language; unchanged when nothing matches. */
export function reason(text, depth = 0) {
  const value = String(text ?? "");
  if (!value || depth > MAX_DEPTH) return value;
  if (Object.hasOwn(reasonTable, value) && typeof reasonTable[value] === "string" && reasonTable[value]) {
    return reasonTable[value];
  }
  for (const { pattern, translated } of patterns()) {
    const m = pattern.exec(value);
    if (!m) continue;
    const groups = m.groups || {};
    return translated.replace(/\{(\w+)\}/g, (whole, name) =>
      Object.hasOwn(groups, name) ? reason(groups[name], depth + 1) : whole,
    );
  }
  // Several reasons in one ("a; b"): each part on its own.
  if (value.includes("; ")) return value.split("; ").map((part) => reason(part, depth + 1)).join("; ");
  return value;
}

/** A summary ("check: reason; check: reason", as the verifier makes it) in the page's language:
 * each part naming a check gets its label (`label(name)`) and translated reason. */
export function summary(text, names, label) {
  const value = String(text ?? "");
  if (!Object.keys(reasonTable).length || !value) return value;
  const alternatives = names.map(escapeRegExp).join("|");
  const pieces = value.split(new RegExp(`(?:^|; )(${alternatives}): `));
  const parts = pieces[0] ? [pieces[0]] : [];
  for (let i = 1; i + 1 < pieces.length; i += 2) parts.push(`${label(pieces[i])}: ${reason(pieces[i + 1])}`);
  return parts.join("; ");
}
