// Entry point of the self-contained verifier page: `window.credentialRegistry` (api.js) and the UI.
import { api, credentialDocument, csvText, isObject, learnerName, reportRow, subjectOf } from "./api.js";
import { expandArchives } from "./archive.js";
import { euElements } from "./elements.js";
import { setCatalog, setReasons, t, translatePage } from "./i18n.js";
import { InvalidInput, loadPathway } from "./pathway.js";
import { verifyStack } from "./stack.js";
import { checkList, renderStack, reportJson, summaryText, verdictWord } from "./stackview.js";
import { trustTable, verify, verifyMany } from "./verifier.js";

window.credentialRegistry = api;

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function parseTrusted(text) {
  const value = text.trim();
  if (!value) return [];
  if (value.startsWith("[") || value.startsWith("{")) return JSON.parse(value);
  // One registry per line: "CHAIN_ID ADDRESS" (or "CHAIN_ID:ADDRESS").
  return value
    .split(/\n+/)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [chainId, address] = line.split(/[\s:,]+/);
      return { chainId: Number(chainId), address, source: "the trusted registries listed on this page" };
    });
}

/** A form of participation (EU micro-credential element) in words. */
function participation(form) {
  const words = { online: t("Online"), onsite: t("On site"), blended: t("Blended") };
  return Object.hasOwn(words, form) ? words[form] : String(form);
}

/** Facts of the achievement (EU micro-credential elements) appended to the list `dl`. */
function achievementFacts(dl, doc) {
  const subject = subjectOf(doc);
  if (!subject) return;
  const eu = euElements(subject.achievement);
  // `key` (data-fact) stays English in every language: what scripts and tests look facts up by.
  const add = (key, term, ...value) => dl.append(el("dt", {}, term), el("dd", { "data-fact": key }, ...value));
  if (eu.ects !== null && eu.ects !== undefined) {
    add("Workload", t("Workload"), t("{ects} ECTS credits", { ects: eu.ects }));
  }
  if (eu.eqf_level !== null && eu.eqf_level !== undefined) add("EQF level", t("EQF level"), String(eu.eqf_level));
  if (eu.participation_form) add("Participation", t("Participation"), participation(eu.participation_form));
  if (eu.assessment_type) add("Assessment", t("Assessment"), String(eu.assessment_type));
  if (eu.quality_assurance) add("Quality assurance", t("Quality assurance"), String(eu.quality_assurance));
  if (eu.learning_outcomes.length) {
    add(
      "Learning outcomes",
      t("Learning outcomes"),
      el("ul", { id: "learning-outcomes" }, ...eu.learning_outcomes.map((o) => el("li", {}, String(o)))),
    );
  }
  const results = Array.isArray(subject.result) ? subject.result.filter(isObject) : [];
  const grades = results.map((r) => r.value).filter((v) => typeof v === "string" || typeof v === "number");
  if (grades.length) add("Result", t("Result"), grades.join(", "));
}

function render(report, doc = null) {
  const out = $("result");
  out.replaceChildren();
  out.append(
    el(
      "h2",
      { id: "result-title" },
      t("Result:"),
      " ",
      el(
        "span",
        {
          id: "verdict",
          class: `verdict ${report.verdict.toLowerCase()}`,
          "data-verdict": report.verdict,
          tabIndex: -1,
        },
        verdictWord(report.verdict),
      ),
    ),
    // The summary is the failing checks' reasons (in the page's language), or that every check passed.
    el(
      "p",
      { id: "summary" },
      report.summary === "all checks passed" ? t("all checks passed") : summaryText(report.summary),
    ),
  );
  const cred = report.credential;
  if (cred && Object.keys(cred).length) {
    const dl = el("dl", { class: "facts" });
    dl.append(el("dt", {}, t("Credential")), el("dd", {}, String(cred.achievement || cred.name || "")));
    dl.append(
      el("dt", {}, t("Named issuer")),
      el("dd", {}, `${cred.issuerName ?? ""} `, el("code", {}, String(cred.issuerId ?? ""))),
    );
    if (report.issuer) {
      dl.append(
        el("dt", {}, t("Issuer on chain")),
        el(
          "dd",
          { id: "issuer-on-chain" },
          `${report.issuer.name} `,
          el("code", {}, report.issuer.did),
          t(", accredited by "),
          report.issuer.accreditor && report.issuer.accreditor.name
            ? `${report.issuer.accreditor.name} (${report.issuer.accreditor.uri}) `
            : "",
          el("code", {}, report.issuer.accreditedBy),
        ),
      );
    }
    const from = cred.validFrom;
    dl.append(
      el("dt", {}, t("Valid")),
      el(
        "dd",
        {},
        cred.validUntil ? t("from {from} until {until}", { from, until: cred.validUntil }) : t("from {from}", { from }),
      ),
    );
    achievementFacts(dl, doc);
    if (report.proofs && report.proofs.length) {
      dl.append(el("dt", {}, t("Proofs checked")), el("dd", { id: "proofs" }, report.proofs.join(", ")));
    }
    out.append(dl);
  }
  out.append(el("h3", {}, t("Checks")));
  out.append(checkList("checks", report.checks));
  if (report.hidden_fields.length || report.redacted_field_count) {
    out.append(
      el("h3", {}, t("Hidden by the holder")),
      el("p", {}, t("{count} field(s) hidden", { count: report.redacted_field_count })),
      el("ul", { id: "hidden" }, ...report.hidden_fields.map((p) => el("li", {}, el("code", {}, p)))),
    );
  }
  out.append(reportJson(report));
  out.hidden = false;
  $("verdict").focus?.();
}

/** The language switch of the service's pages (`languages`: [{lang, name, href}] from the
 * configuration; none in a page written to a file), each link named in its own language. */
function languageSwitch(languages) {
  if (!Array.isArray(languages) || !languages.length) return;
  const nav = el("nav", { class: "langs", id: "languages", "aria-label": t("Language") });
  languages.forEach((entry, i) => {
    if (i) nav.append(" ", el("span", { "aria-hidden": "true" }, "|"), " ");
    const current = entry.lang === document.documentElement.lang;
    const attrs = { href: entry.href, lang: entry.lang, hreflang: entry.lang };
    nav.append(el("a", current ? { ...attrs, "aria-current": "true" } : attrs, entry.name));
  });
  $("main").prepend(nav);
}

function setup() {
  const form = $("verify-form");
  if (!form) return;
  const config = JSON.parse($("verifier-config").textContent || "{}");
  setCatalog(config.messages);
  setReasons(config.reasons);
  translatePage(config.lang);
  languageSwitch(config.languages);
  if (config.rpc && !$("rpc").value) $("rpc").value = config.rpc;
  if (config.trustedRegistries && !$("trusted").value) {
    $("trusted").value = config.trustedRegistries.map((r) => `${r.chainId} ${r.address}`).join("\n");
  }
  const status = $("status");
  const drop = $("drop");
  const input = $("file");
  async function runStack(files, pathwayFile) {
    status.textContent = t("Verifying {count} file(s) as a stack…", { count: files.length });
    $("result").hidden = true;
    let pathway;
    try {
      pathway = loadPathway(new Uint8Array(await pathwayFile.arrayBuffer()));
    } catch (exc) {
      if (!(exc instanceof InvalidInput)) throw exc;
      status.textContent = t("Error: the pathway {file} is not a valid pathway definition: {error}", {
        file: pathwayFile.name,
        error: exc.message,
      });
      return;
    }
    try {
      const trusted = parseTrusted($("trusted").value);
      trustTable(trusted);
      const loaded = await Promise.all(
        [...files].map(async (f) => ({ source: f.name, data: new Uint8Array(await f.arrayBuffer()) })),
      );
      const report = await verifyStack(pathway, loaded, {
        rpc: $("rpc").value.trim() || null,
        trustedRegistries: trusted,
        minConfirmations: Number($("confirmations").value || 1),
        learner: $("learner").value.trim() || null,
      });
      status.textContent = t("Done: stack {verdict}", { verdict: verdictWord(report.verdict) });
      renderStack($("result"), report, pathway);
    } catch (exc) {
      status.textContent = t("Error: {error}", { error: exc.message });
    }
  }
  async function run(data, source) {
    status.textContent = t("Verifying…");
    $("result").hidden = true;
    try {
      const trusted = parseTrusted($("trusted").value);
      trustTable(trusted);
      const report = await verify(data, {
        rpc: $("rpc").value.trim() || null,
        trustedRegistries: trusted,
        source,
        minConfirmations: Number($("confirmations").value || 1),
      });
      status.textContent = t("Done: {verdict}", { verdict: verdictWord(report.verdict) });
      render(report, credentialDocument(data));
    } catch (exc) {
      status.textContent = t("Error: {error}", { error: exc.message });
    }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files && input.files[0];
    const pathwayFile = $("pathway").files && $("pathway").files[0];
    if (pathwayFile) {
      if (file) await runStack(input.files, pathwayFile);
      else status.textContent = t("Choose the credential files of the stack first.");
    } else if (input.files && input.files.length > 1) {
      status.textContent = t(
        "Several files: choose a pathway to verify them as one stack, or verify them one by one under “Verify many files”.",
      );
    } else if (file) {
      await run(new Uint8Array(await file.arrayBuffer()), file.name);
    } else if ($("credential").value.trim()) {
      await run($("credential").value, "pasted credential");
    } else {
      status.textContent = t("Choose a credential file or paste its JSON first.");
    }
  });
  dropZone(drop, (files) => {
    input.files = files;
    form.requestSubmit();
  });
}

/** Highlight ``drop`` while files are dragged over it; hand dropped files to ``onFiles``. */
function dropZone(drop, onFiles) {
  ["dragenter", "dragover"].forEach((name) =>
    drop.addEventListener(name, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    }),
  );
  ["dragleave", "drop"].forEach((name) =>
    drop.addEventListener(name, (e) => {
      e.preventDefault();
      drop.classList.remove("over");
    }),
  );
  drop.addEventListener("drop", (e) => {
    if (e.dataTransfer && e.dataTransfer.files.length) onFiles(e.dataTransfer.files);
  });
}

function setupBulk() {
  const input = $("files");
  if (!input) return;
  const drop = $("bulk-drop");
  const status = $("bulk-status");
  let table = [];
  async function run(files) {
    if (!files.length) return;
    status.textContent = t("Verifying {count} file(s)…", { count: files.length });
    $("bulk-result").hidden = true;
    try {
      // Zip archives (an applicant tracking system's "download all") are verified entry by entry.
      const read = await Promise.all(
        [...files].map(async (f) => ({ source: f.name, data: new Uint8Array(await f.arrayBuffer()) })),
      );
      const loaded = await expandArchives(read);
      if (loaded.length !== read.length) status.textContent = t("Verifying {count} file(s)…", { count: loaded.length });
      const trusted = parseTrusted($("trusted").value);
      let shownAt = performance.now();
      const reports = await verifyMany(loaded, {
        rpc: $("rpc").value.trim() || null,
        trustedRegistries: trusted,
        minConfirmations: Number($("confirmations").value || 1),
        // A few times a second, and after the last file: say how far the run is, and let the
        // browser paint it (the checks run on this thread).
        onProgress: (done, total) => {
          if (done < total && performance.now() - shownAt < 150) return undefined;
          status.textContent = t("Checked {done} of {count} file(s)…", { done, count: total });
          shownAt = performance.now();
          return new Promise((resolve) => setTimeout(resolve, 0));
        },
      });
      table = reports.map((r, i) => reportRow(r, loaded[i].data ? learnerName(loaded[i].data) : null));
      renderBulk(table);
      const count = (v) => table.filter((r) => r.verdict === v).length;
      status.textContent = t("Done: {count} file(s): {valid} VALID, {invalid} INVALID, {indeterminate} INDETERMINATE", {
        count: table.length,
        valid: count("VALID"),
        invalid: count("INVALID"),
        indeterminate: count("INDETERMINATE"),
      });
    } catch (exc) {
      status.textContent = t("Error: {error}", { error: exc.message });
    }
  }
  input.addEventListener("change", () => run(input.files || []));
  dropZone(drop, run);
  $("bulk-csv").addEventListener("click", () => {
    const blob = new Blob([csvText(table, { bom: true })], { type: "text/csv;charset=utf-8" });
    const link = el("a", { href: URL.createObjectURL(blob), download: "verification.csv" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  });
}

function renderBulk(table) {
  const body = $("bulk-table").tBodies[0];
  body.replaceChildren();
  for (const r of table) {
    body.append(
      el(
        "tr",
        { "data-verdict": r.verdict },
        el("td", {}, r.file),
        el("td", {}, r.learner_name),
        el("td", {}, r.achievement),
        el("td", {}, r.issuer_name),
        el("td", {}, el("span", { class: `verdict ${r.verdict.toLowerCase()}` }, verdictWord(r.verdict))),
        el("td", {}, summaryText(r.reason)),
      ),
    );
  }
  $("bulk-result").hidden = false;
}

function start() {
  setup();
  setupBulk();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
