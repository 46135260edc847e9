// The share page's live check (docs/service.md, "Pages"): download this page's credential file,
// verify it in the browser with the verifier library (/assets/verifier.js:
// window.credentialRegistry, web/verifier/src/lib.js) against the RPC and the trusted registries
// the service offers its /verify page, and show the verdict, each check and when it was checked.
// Configuration and words (in the page's language) come from the JSON element
// #share-live-config; nothing here is evaluated from the page, so a strict CSP stays possible.
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of children || []) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
  }

  function checkedAt(iso, lang) {
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return iso;
    try {
      return new Intl.DateTimeFormat(lang, { dateStyle: "long", timeStyle: "medium" }).format(when);
    } catch {
      return when.toISOString();
    }
  }

  function reasonElement(text, config) {
    const lib = window.credentialRegistry;
    const table = config.labels.reasons || {};
    const shown =
      lib && typeof lib.translateReason === "function" && Object.keys(table).length
        ? lib.translateReason(text, table)
        : text;
    const english = config.lang && config.lang !== "en" && shown === text;
    return el("p", english ? { lang: "en" } : {}, [shown]);
  }

  function render(out, report, config) {
    const L = config.labels;
    const verdict = String(report.verdict);
    const marks = { pass: "✔", fail: "✘", indeterminate: "?" };
    const list = el("ul", { class: "checks", id: "live-checks" });
    for (const check of report.checks) {
      list.append(
        el("li", { class: `check ${check.status}`, "data-check": check.name, "data-status": check.status }, [
          el("span", { class: "mark", "aria-hidden": "true" }, [marks[check.status] || "?"]),
          " ",
          el("strong", {}, [L.checks[check.name] || check.name]),
          " ",
          el("span", { class: "status" }, [L.statuses[check.status] || check.status]),
          // The reasons in the page's language (the verifier library matches them against the
          // table of reason templates); one left untranslated keeps its English (lang="en").
          reasonElement(check.reason, config),
        ]),
      );
    }
    out.replaceChildren(
      el("p", { id: "live-verdict-line" }, [
        `${L.result} `,
        el("span", { id: "live-verdict", class: `verdict ${verdict.toLowerCase()}`, "data-verdict": verdict }, [
          L.verdicts[verdict] || verdict,
        ]),
      ]),
      el("p", { id: "live-summary" }, [L.summaries[verdict] || ""]),
      list,
      el("p", { class: "hint", id: "live-checked-at" }, [
        `${L.checkedAt} `,
        el("time", { datetime: report.checked_at }, [checkedAt(report.checked_at, config.lang)]),
      ]),
    );
  }

  function unavailable(out, config, reason) {
    out.replaceChildren(
      el("p", { class: "hint", id: "live-unavailable" }, [fill(config.labels.unavailable, { reason })]),
    );
  }

  async function start() {
    const source = document.getElementById("share-live-config");
    const out = document.getElementById("live-result");
    if (!source || !out) return;
    const config = JSON.parse(source.textContent);
    const L = config.labels;
    out.replaceChildren(el("p", { class: "hint", id: "live-status" }, [L.checking]));
    const lib = window.credentialRegistry;
    if (!lib || typeof lib.verify !== "function") {
      unavailable(out, config, L.noLibrary);
      return;
    }
    let text;
    try {
      const response = await fetch(config.credentialUrl, { cache: "no-store", credentials: "omit" });
      if (!response.ok) {
        unavailable(out, config, fill(L.downloadFailed, { status: `HTTP ${response.status}` }));
        return;
      }
      text = await response.text();
    } catch (exc) {
      unavailable(out, config, fill(L.downloadFailed, { status: exc.message }));
      return;
    }
    try {
      const report = await lib.verify(text, {
        rpc: config.rpc,
        trustedRegistries: config.trustedRegistries,
        source: "credential.json",
      });
      render(out, report, config);
    } catch (exc) {
      unavailable(out, config, fill(L.failed, { error: exc.message }));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
