// How the page shows a stack report (stack.js verifyStack): the verdict (INCOMPLETE in its own
// words and colour), the stack checks, each requirement with the files that satisfy it or what is
// missing, the credits, the files that count for nothing, then each file's own checks.
import { nodesOf } from "./pathway.js";

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

const MARKS = { pass: "✔", fail: "✘", indeterminate: "?" };
const MEANING = {
  VALID: "Every file is genuine and valid, they belong to one learner, and together they meet the pathway's requirements.",
  INCOMPLETE:
    "Every file is genuine and valid, but the requirements of the pathway are not met yet: see what is missing below.",
  INVALID: "The stack cannot count: a file or a check of the stack failed (see below).",
  INDETERMINATE: "The stack could not be checked completely (see below); nothing proves it is wrong.",
};
const credits = (n) => `${n} credit${n === 1 ? "" : "s"}`;

function checkList(id, checks) {
  return el(
    "ul",
    { class: "checks", id },
    ...checks.map((c) =>
      el(
        "li",
        { class: `check ${c.status}`, "data-check": c.name, "data-status": c.status },
        el("span", { class: "mark", "aria-hidden": "true" }, MARKS[c.status]),
        " ",
        el("strong", {}, c.name),
        " ",
        el("span", { class: "status" }, c.status),
        el("p", {}, c.reason),
      ),
    ),
  );
}

/** The kind of a requirement in words, from its definition. */
function kindText(node, def) {
  if (node.kind === "achievement") return `achievement ${def ? def.achievement : ""}`.trim();
  if (node.kind === "allOf") return "all of";
  if (node.kind === "atLeast") return def ? `at least ${def.atLeast} of` : "at least";
  return `${credits(node.credits_required)} from`;
}

function requirementItem(node, def) {
  const met = node.satisfied;
  const item = el(
    "li",
    {
      class: `requirement ${met ? "met" : "unmet"}`,
      "data-requirement": node.id,
      "data-satisfied": String(met),
    },
    el("span", { class: "mark", "aria-hidden": "true" }, met ? "✔" : "✘"),
    " ",
    el("strong", {}, node.name || node.id),
    " ",
    el("span", { class: "status" }, `(${kindText(node, def)}): ${met ? "met" : "not met"}`),
  );
  const facts = el("ul", { class: "requirement-facts" });
  if (node.satisfied_by.length) {
    facts.append(el("li", { "data-fact": "satisfied-by" }, "Satisfied by: ", node.satisfied_by.join(", ")));
  }
  if (node.kind === "credits" || node.credits) {
    const of = node.credits_required !== null ? ` of ${node.credits_required} required` : "";
    facts.append(el("li", { "data-fact": "credits" }, `Credits: ${node.credits}${of}`));
  }
  // An "all of" group misses what its children miss: said once, under each child.
  if (node.kind !== "allOf") for (const m of node.missing) facts.append(el("li", { "data-fact": "missing" }, "Missing: ", m));
  if (facts.childElementCount) item.append(facts);
  return item;
}

/** The requirement tree as nested lists (children under their parent, in the pathway's order). */
function requirementTree(result, pathway) {
  const defs = new Map(pathway ? nodesOf(pathway) : []);
  const lists = new Map();
  const root = el("ul", { class: "requirements", id: "requirements" });
  for (const node of result.nodes) {
    const item = requirementItem(node, defs.get(node.pointer));
    const parent = node.parent === null ? root : lists.get(node.parent);
    (parent || root).append(item);
    if (node.kind !== "achievement") {
      const sub = el("ul", { class: "requirements" });
      item.append(sub);
      lists.set(node.id, sub);
    }
  }
  return root;
}

/** Render `report` (a StackReport) into `out`; `pathway` is the loaded definition (or null). */
export function renderStack(out, report, pathway = null) {
  out.replaceChildren();
  const verdict = report.verdict;
  out.append(
    el(
      "h2",
      { id: "result-title" },
      "Stack result: ",
      el("span", { id: "verdict", class: `verdict ${verdict.toLowerCase()}`, tabIndex: -1 }, verdict),
    ),
    el("p", { id: "verdict-meaning", class: `meaning ${verdict.toLowerCase()}` }, MEANING[verdict] || ""),
    el("p", { id: "summary" }, report.summary),
  );
  const p = report.pathway;
  const dl = el("dl", { class: "facts", id: "pathway-facts" });
  const add = (term, ...value) => dl.append(el("dt", {}, term), el("dd", {}, ...value));
  add("Pathway", `${p.name} `, el("code", {}, p.id), `, version ${p.version}`);
  add("Owner", el("code", {}, p.owner));
  add("Digest", el("code", {}, p.digest));
  if (p.block !== undefined) add("Published", `block ${p.block} of registry `, el("code", {}, p.registry), ` on chain ${p.chainId}`);
  out.append(dl);
  out.append(el("h3", {}, "Checks of the stack"), checkList("stack-checks", report.checks));
  const result = report.result;
  if (result) {
    out.append(el("h3", {}, "Requirements"));
    const need = result.credits_required;
    out.append(
      el(
        "p",
        { id: "credits-total" },
        `Credits counted: ${result.total_credits}` + (need !== null ? ` of ${need} needed for the qualification` : ""),
        result.max_eqf_level !== null ? `; highest EQF level: ${result.max_eqf_level}` : "",
      ),
    );
    out.append(requirementTree(result, pathway));
    if (result.missing.length) {
      out.append(
        el("h4", {}, "Still missing"),
        el("ul", { id: "stack-missing" }, ...result.missing.map((m) => el("li", {}, m))),
      );
    }
    if (result.unused.length) {
      out.append(
        el("h4", {}, "Files that count for nothing"),
        el(
          "ul",
          { id: "stack-unused" },
          ...result.unused.map((u) => el("li", { "data-file": u.key }, el("strong", {}, u.key), `: ${u.reason}`)),
        ),
      );
    }
  }
  out.append(el("h3", {}, "Files"));
  const files = el("ol", { class: "stack-files", id: "stack-files" });
  report.components.forEach((r, i) => {
    files.append(
      el(
        "li",
        { "data-file": r.source, "data-verdict": r.verdict },
        el("h4", {}, `${r.source}: `, el("span", { class: `verdict ${r.verdict.toLowerCase()}` }, r.verdict)),
        el("p", {}, r.summary),
        checkList(`file-checks-${i + 1}`, r.checks),
      ),
    );
  });
  out.append(files);
  out.append(el("details", {}, el("summary", {}, "Report (JSON)"), el("pre", { id: "report-json" }, JSON.stringify(report, null, 2))));
  out.hidden = false;
  out.querySelector("#verdict").focus?.();
}
