// How the page shows a stack report (stack.js verifyStack): the verdict (INCOMPLETE in its own
// words and colour), the stack checks, each requirement with the files that satisfy it or what is
// missing, the credits, the files that count for nothing, then each file's own checks. Also the
// parts the page's one-file result shares (check list, verdict words, the report as JSON). Every
// word through i18n.js `t`; the reasons of the checks (English, as the verification modules give
// them) through i18n.js `reason`, matched against the page's table of reason templates.
import { reason, summary, t } from "./i18n.js";
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

/** What a stack verdict means, in words. */
function meaning(verdict) {
  const words = {
    VALID: t(
      "Every file is genuine and valid, they belong to one learner, and together they meet the pathway's requirements.",
    ),
    INCOMPLETE: t(
      "Every file is genuine and valid, but the requirements of the pathway are not met yet: see what is missing below.",
    ),
    INVALID: t("The stack cannot count: a file or a check of the stack failed (see below)."),
    INDETERMINATE: t("The stack could not be checked completely (see below); nothing proves it is wrong."),
  };
  return Object.hasOwn(words, verdict) ? words[verdict] : "";
}

const credits = (n) => (n === 1 ? t("1 credit") : t("{count} credits", { count: n }));

/** Look a word up in `words` (built with `t` calls, so the msgids stay literal); else as it is. */
const wordOf = (words, key) => (Object.hasOwn(words, key) ? words[key] : String(key));

/** A verdict word (VALID, INVALID, INDETERMINATE, INCOMPLETE) in the page's language. */
export function verdictWord(verdict) {
  const words = {
    VALID: t("VALID"),
    INVALID: t("INVALID"),
    INDETERMINATE: t("INDETERMINATE"),
    INCOMPLETE: t("INCOMPLETE"),
  };
  return wordOf(words, verdict);
}

/** The name of a check (registry/verify/report.py CHECK_NAMES, and the stack's own checks). */
function checkName(name) {
  const words = {
    format: t("format"),
    integrity: t("integrity"),
    inclusion: t("inclusion"),
    anchor: t("anchor"),
    issuer: t("issuer"),
    signature: t("signature"),
    revocation: t("revocation"),
    lineage: t("lineage"),
    validity: t("validity"),
    pathway: t("pathway"),
    rule: t("rule"),
    learner: t("learner"),
    did: t("did"),
  };
  return wordOf(words, name);
}

/** The checks a summary can name (checkName knows their words). */
const CHECKS = [
  ...["format", "integrity", "inclusion", "anchor", "issuer", "signature", "revocation", "lineage", "validity"],
  ...["pathway", "rule", "learner", "did", "umbrella"],
];

/** A report's summary ("check: reason; ...") in the page's language. */
export function summaryText(text) {
  return summary(text, CHECKS, checkName);
}

/** The status of a check in words. */
function statusWord(status) {
  return wordOf({ pass: t("pass"), fail: t("fail"), indeterminate: t("indeterminate") }, status);
}

/** The checks of a report as a list: mark, name, status and reason (data-* keep the English keys). */
export function checkList(id, checks) {
  return el(
    "ul",
    { class: "checks", id },
    ...checks.map((c) =>
      el(
        "li",
        { class: `check ${c.status}`, "data-check": c.name, "data-status": c.status },
        el("span", { class: "mark", "aria-hidden": "true" }, MARKS[c.status]),
        " ",
        el("strong", {}, checkName(c.name)),
        " ",
        el("span", { class: "status" }, statusWord(c.status)),
        el("p", {}, reason(c.reason)),
      ),
    ),
  );
}

/** The kind of a requirement in words, from its definition. */
function kindText(node, def) {
  if (node.kind === "achievement") return def ? t("achievement {uri}", { uri: def.achievement }) : t("achievement");
  if (node.kind === "allOf") return t("all of");
  if (node.kind === "atLeast") return def ? t("at least {count} of", { count: def.atLeast }) : t("at least");
  return t("{credits} from", { credits: credits(node.credits_required) });
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
    el("span", { class: "status" }, `(${kindText(node, def)}): ${met ? t("met") : t("not met")}`),
  );
  const facts = el("ul", { class: "requirement-facts" });
  if (node.satisfied_by.length) {
    facts.append(el("li", { "data-fact": "satisfied-by" }, t("Satisfied by:"), " ", node.satisfied_by.join(", ")));
  }
  if (node.kind === "credits" || node.credits) {
    const text =
      node.credits_required !== null
        ? t("Credits: {credits} of {required} required", { credits: node.credits, required: node.credits_required })
        : t("Credits: {credits}", { credits: node.credits });
    facts.append(el("li", { "data-fact": "credits" }, text));
  }
  // An "all of" group misses what its children miss: said once, under each child.
  if (node.kind !== "allOf") {
    for (const m of node.missing) facts.append(el("li", { "data-fact": "missing" }, t("Missing:"), " ", m));
  }
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
      t("Stack result:"),
      " ",
      el(
        "span",
        { id: "verdict", class: `verdict ${verdict.toLowerCase()}`, "data-verdict": verdict, tabIndex: -1 },
        verdictWord(verdict),
      ),
    ),
    el("p", { id: "verdict-meaning", class: `meaning ${verdict.toLowerCase()}` }, meaning(verdict)),
    el("p", { id: "summary" }, summaryText(report.summary)),
  );
  const p = report.pathway;
  const dl = el("dl", { class: "facts", id: "pathway-facts" });
  const add = (term, ...value) => dl.append(el("dt", {}, term), el("dd", {}, ...value));
  add(t("Pathway"), `${p.name} `, el("code", {}, p.id), t(", version {version}", { version: p.version }));
  add(t("Owner"), el("code", {}, p.owner));
  add(t("Digest"), el("code", {}, p.digest));
  if (p.block !== undefined) {
    add(
      t("Published"),
      t("block {block} of registry", { block: p.block }),
      " ",
      el("code", {}, p.registry),
      " ",
      t("on chain {chainId}", { chainId: p.chainId }),
    );
  }
  out.append(dl);
  out.append(el("h3", {}, t("Checks of the stack")), checkList("stack-checks", report.checks));
  const result = report.result;
  if (result) {
    out.append(el("h3", {}, t("Requirements")));
    const need = result.credits_required;
    out.append(
      el(
        "p",
        { id: "credits-total" },
        need !== null
          ? t("Credits counted: {credits} of {needed} needed for the qualification", {
              credits: result.total_credits,
              needed: need,
            })
          : t("Credits counted: {credits}", { credits: result.total_credits }),
        result.max_eqf_level !== null ? t("; highest EQF level: {level}", { level: result.max_eqf_level }) : "",
      ),
    );
    out.append(requirementTree(result, pathway));
    if (result.missing.length) {
      out.append(
        el("h4", {}, t("Still missing")),
        el("ul", { id: "stack-missing" }, ...result.missing.map((m) => el("li", {}, m))),
      );
    }
    if (result.unused.length) {
      out.append(
        el("h4", {}, t("Files that count for nothing")),
        el(
          "ul",
          { id: "stack-unused" },
          ...result.unused.map((u) => el("li", { "data-file": u.key }, el("strong", {}, u.key), `: ${u.reason}`)),
        ),
      );
    }
  }
  out.append(el("h3", {}, t("Files")));
  const files = el("ol", { class: "stack-files", id: "stack-files" });
  report.components.forEach((r, i) => {
    files.append(
      el(
        "li",
        { "data-file": r.source, "data-verdict": r.verdict },
        el(
          "h4",
          {},
          `${r.source}: `,
          el("span", { class: `verdict ${r.verdict.toLowerCase()}` }, verdictWord(r.verdict)),
        ),
        el("p", {}, summaryText(r.summary)),
        checkList(`file-checks-${i + 1}`, r.checks),
      ),
    );
  });
  out.append(files);
  out.append(reportJson(report));
  out.hidden = false;
  out.querySelector("#verdict").focus?.();
}

/** The whole report as JSON, folded (the machine-readable form: never translated). */
export function reportJson(report) {
  const json = el("pre", { id: "report-json" }, JSON.stringify(report, null, 2));
  return el("details", {}, el("summary", {}, t("Report (JSON)")), json);
}
