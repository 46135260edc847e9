// Entry point of the self-contained verifier page: `window.credentialRegistry` and the UI.
import { canonicalIssuerId } from "./identity.js";
import { CHECK_NAMES, trustTable, verify, verifyMany } from "./verifier.js";

/**
 * window.credentialRegistry.verify(fileText | bytes, {rpc, trustedRegistries, now, minConfirmations,
 * offline, source}) -> Promise<report>; verifyBytes is the same for bytes; verifyMany takes
 * [{source, data}] and shares chain reads.
 */
const api = {
  verify,
  verifyBytes: (bytes, options) => verify(bytes, options),
  verifyMany,
  checkNames: CHECK_NAMES,
  canonicalIssuerId,
  version: "credreg-verifier-page-1",
};
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
      return { chainId: Number(chainId), address };
    });
}

function render(report) {
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
      render(report);
    } catch (exc) {
      status.textContent = `Error: ${exc.message}`;
    }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files && input.files[0];
    if (file) {
      await run(new Uint8Array(await file.arrayBuffer()), file.name);
    } else if ($("credential").value.trim()) {
      await run($("credential").value, "pasted credential");
    } else {
      status.textContent = "Choose a credential file or paste its JSON first.";
    }
  });
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
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    input.files = e.dataTransfer.files;
    form.requestSubmit();
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
else setup();
