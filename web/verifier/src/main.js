// Entry point of the self-contained verifier page: `window.credentialRegistry` (api.js) and the UI.
import { api, credentialDocument, csvText, isObject, learnerName, reportRow, subjectOf } from "./api.js";
import { euElements } from "./elements.js";
import { InvalidInput, loadPathway } from "./pathway.js";
import { verifyStack } from "./stack.js";
import { renderStack } from "./stackview.js";
import { trustTable, verify, verifyMany } from "./verifier.js";

window.credentialRegistry = api;

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
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

const PARTICIPATION = { online: "Online", onsite: "On site", blended: "Blended" };

/** Facts of the achievement (EU micro-credential elements) appended to the list `dl`. */
function achievementFacts(dl, doc) {
  const subject = subjectOf(doc);
  if (!subject) return;
  const eu = euElements(subject.achievement);
  const add = (term, ...value) => dl.append(el("dt", {}, term), el("dd", { "data-fact": term }, ...value));
  if (eu.ects !== null && eu.ects !== undefined) add("Workload", `${eu.ects} ECTS credits`);
  if (eu.eqf_level !== null && eu.eqf_level !== undefined) add("EQF level", String(eu.eqf_level));
  if (eu.participation_form) add("Participation", PARTICIPATION[eu.participation_form] || String(eu.participation_form));
  if (eu.assessment_type) add("Assessment", String(eu.assessment_type));
  if (eu.quality_assurance) add("Quality assurance", String(eu.quality_assurance));
  if (eu.learning_outcomes.length) {
    add("Learning outcomes", el("ul", { id: "learning-outcomes" }, ...eu.learning_outcomes.map((o) => el("li", {}, String(o)))));
  }
  const results = Array.isArray(subject.result) ? subject.result.filter(isObject) : [];
  const grades = results.map((r) => r.value).filter((v) => typeof v === "string" || typeof v === "number");
  if (grades.length) add("Result", grades.join(", "));
}

function render(report, doc = null) {
  const out = $("result");
  out.replaceChildren();
  const marks = { pass: "✔", fail: "✘", indeterminate: "?" };
  out.append(
    el(
      "h2",
      { id: "result-title" },
      "Result: ",
      el("span", { id: "verdict", class: `verdict ${report.verdict.toLowerCase()}`, tabIndex: -1 }, report.verdict),
    ),
    el("p", { id: "summary" }, report.summary),
  );
  const cred = report.credential;
  if (cred && Object.keys(cred).length) {
    const dl = el("dl", { class: "facts" });
    dl.append(el("dt", {}, "Credential"), el("dd", {}, String(cred.achievement || cred.name || "")));
    dl.append(
      el("dt", {}, "Named issuer"),
      el("dd", {}, `${cred.issuerName ?? ""} `, el("code", {}, String(cred.issuerId ?? ""))),
    );
    if (report.issuer) {
      dl.append(
        el("dt", {}, "Issuer on chain"),
        el(
          "dd",
          { id: "issuer-on-chain" },
          `${report.issuer.name} `,
          el("code", {}, report.issuer.did),
          ", accredited by ",
          report.issuer.accreditor && report.issuer.accreditor.name
            ? `${report.issuer.accreditor.name} (${report.issuer.accreditor.uri}) `
            : "",
          el("code", {}, report.issuer.accreditedBy),
        ),
      );
    }
    dl.append(
      el("dt", {}, "Valid"),
      el("dd", {}, `from ${cred.validFrom}` + (cred.validUntil ? ` until ${cred.validUntil}` : "")),
    );
    achievementFacts(dl, doc);
    if (report.proofs && report.proofs.length) {
      dl.append(el("dt", {}, "Proofs checked"), el("dd", { id: "proofs" }, report.proofs.join(", ")));
    }
    out.append(dl);
  }
  out.append(el("h3", {}, "Checks"));
  const list = el("ul", { class: "checks", id: "checks" });
  for (const check of report.checks) {
    list.append(
      el(
        "li",
        { class: `check ${check.status}`, "data-check": check.name, "data-status": check.status },
        el("span", { class: "mark", ariaHidden: "true" }, marks[check.status]),
        " ",
        el("strong", {}, check.name),
        " ",
        el("span", { class: "status" }, check.status),
        el("p", {}, check.reason),
      ),
    );
  }
  out.append(list);
  if (report.hidden_fields.length || report.redacted_field_count) {
    out.append(
      el("h3", {}, "Hidden by the holder"),
      el("p", {}, `${report.redacted_field_count} field(s) hidden`),
      el("ul", { id: "hidden" }, ...report.hidden_fields.map((p) => el("li", {}, el("code", {}, p)))),
    );
  }
  const raw = el("details", {}, el("summary", {}, "Report (JSON)"), el("pre", { id: "report-json" }, JSON.stringify(report, null, 2)));
  out.append(raw);
  out.hidden = false;
  $("verdict").focus?.();
}

function setup() {
  const form = $("verify-form");
  if (!form) return;
  const config = JSON.parse($("verifier-config").textContent || "{}");
  if (config.rpc && !$("rpc").value) $("rpc").value = config.rpc;
  if (config.trustedRegistries && !$("trusted").value) {
    $("trusted").value = config.trustedRegistries.map((t) => `${t.chainId} ${t.address}`).join("\n");
  }
  const status = $("status");
  const drop = $("drop");
  const input = $("file");
  async function runStack(files, pathwayFile) {
    status.textContent = `Verifying ${files.length} file(s) as a stack…`;
    $("result").hidden = true;
    let pathway;
    try {
      pathway = loadPathway(new Uint8Array(await pathwayFile.arrayBuffer()));
    } catch (exc) {
      if (!(exc instanceof InvalidInput)) throw exc;
      status.textContent = `Error: the pathway ${pathwayFile.name} is not a valid pathway definition: ${exc.message}`;
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
      status.textContent = `Done: stack ${report.verdict}`;
      renderStack($("result"), report, pathway);
    } catch (exc) {
      status.textContent = `Error: ${exc.message}`;
    }
  }
  async function run(data, source) {
    status.textContent = "Verifying…";
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
      status.textContent = `Done: ${report.verdict}`;
      render(report, credentialDocument(data));
    } catch (exc) {
      status.textContent = `Error: ${exc.message}`;
    }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files && input.files[0];
    const pathwayFile = $("pathway").files && $("pathway").files[0];
    if (pathwayFile) {
      if (file) await runStack(input.files, pathwayFile);
      else status.textContent = "Choose the credential files of the stack first.";
    } else if (input.files && input.files.length > 1) {
      status.textContent =
        "Several files: choose a pathway to verify them as one stack, or verify them one by one under “Verify many files”.";
    } else if (file) {
      await run(new Uint8Array(await file.arrayBuffer()), file.name);
    } else if ($("credential").value.trim()) {
      await run($("credential").value, "pasted credential");
    } else {
      status.textContent = "Choose a credential file or paste its JSON first.";
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
    status.textContent = `Verifying ${files.length} file(s)…`;
    $("bulk-result").hidden = true;
    try {
      const loaded = await Promise.all(
        [...files].map(async (f) => ({ source: f.name, data: new Uint8Array(await f.arrayBuffer()) })),
      );
      const trusted = parseTrusted($("trusted").value);
      const reports = await verifyMany(loaded, {
        rpc: $("rpc").value.trim() || null,
        trustedRegistries: trusted,
        minConfirmations: Number($("confirmations").value || 1),
      });
      table = reports.map((r, i) => reportRow(r, learnerName(loaded[i].data)));
      renderBulk(table);
      const count = (v) => table.filter((r) => r.verdict === v).length;
      status.textContent = `Done: ${table.length} file(s): ${count("VALID")} VALID, ${count("INVALID")} INVALID, ${count("INDETERMINATE")} INDETERMINATE`;
    } catch (exc) {
      status.textContent = `Error: ${exc.message}`;
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
        el("td", {}, el("span", { class: `verdict ${r.verdict.toLowerCase()}` }, r.verdict)),
        el("td", {}, r.reason),
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
