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
