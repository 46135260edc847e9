// Build the self-contained verifier page: bundle src/main.js with esbuild (IIFE, no module
// loading at run time), with the JSON Schemas of the Python package (credential files v1 and v2,
// OB 3.0, pathway-v1) compiled to standalone Ajv validators, the JSON-LD contexts the package
// ships (registry/contexts: VC 2.0, OB 3.0.3) for the signature check of format v2, and the
// registry ABI from registry/artifacts/CredentialRegistry.json, and inline it into page.html.
// Usage: node web/verifier/build.mjs [OUT] [--sizes] (default registry/artifacts/verifier.html;
// --sizes prints the largest inputs of the bundle).
// With --lib: the same library without the page UI (src/lib.js: `window.credentialRegistry`
// only), written as one script to OUT (default registry/artifacts/verifier-lib.js); the service
// serves it at /assets/verifier.js for the share page's live check.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import * as esbuild from "esbuild";
import Ajv2019 from "ajv/dist/2019.js";
import standaloneCode from "ajv/dist/standalone/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const args = process.argv.slice(2);
const showSizes = args.includes("--sizes");
const libOnly = args.includes("--lib");
const defaultOut = libOnly ? "verifier-lib.js" : "verifier.html";
const out = resolve(args.find((a) => !a.startsWith("--")) || join(root, "registry", "artifacts", defaultOut));
const require = createRequire(import.meta.url);

const readJson = (...p) => JSON.parse(readFileSync(join(root, ...p), "utf8"));
const fileSchema = readJson("registry", "schemas", "credential-file-v1.schema.json");
const fileSchemaV2 = readJson("registry", "schemas", "credential-file-v2.schema.json");
const ob3Schema = readJson("registry", "schemas", "ob3", "achievementcredential.schema.json");
const pathwaySchema = readJson("registry", "schemas", "pathway-v1.schema.json");
const artifact = readJson("registry", "artifacts", "CredentialRegistry.json");

// Python validates with jsonschema's Draft201909Validator without a format checker: formats are
// annotations there, so they are here too (validateFormats: false). ownProperties: member names
// such as "constructor" are data, never inherited.
const ajv = new Ajv2019({
  strict: false,
  validateFormats: false,
  ownProperties: true,
  allErrors: false,
  code: { source: true, esm: true },
});
ajv.addSchema({ ...fileSchema, $schema: undefined }, "file");
ajv.addSchema({ ...fileSchemaV2, $schema: undefined }, "file2");
ajv.addSchema({ ...ob3Schema, $schema: undefined }, "ob3");
ajv.addSchema({ ...pathwaySchema, $schema: undefined }, "pathway");
const validators = standaloneCode(ajv, {
  validateFile: "file",
  validateFile2: "file2",
  validateOb3: "ob3",
  validatePathway: "pathway",
});

// The JSON-LD contexts of format v2, from the files the Python package ships (never fetched).
const CONTEXT_FILES = {
  "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-context-3.0.3.json",
};
const contexts = Object.fromEntries(
  Object.entries(CONTEXT_FILES).map(([url, name]) => [url, readJson("registry", "contexts", name)]),
);

const virtual = {
  name: "virtual",
  setup(build) {
    build.onResolve({ filter: /^virtual:/ }, (args) => ({ path: args.path, namespace: "virtual" }));
    build.onLoad({ filter: /.*/, namespace: "virtual" }, (args) => {
      if (args.path === "virtual:validators") {
        return { contents: validators, loader: "js", resolveDir: dirname(require.resolve("ajv/package.json")) };
      }
      if (args.path === "virtual:abi") {
        return { contents: JSON.stringify(artifact.abi), loader: "json" };
      }
      if (args.path === "virtual:contexts") {
        return { contents: JSON.stringify(contexts), loader: "json" };
      }
      return null;
    });
  },
};

const result = await esbuild.build({
  entryPoints: [join(here, "src", libOnly ? "lib.js" : "main.js")],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  legalComments: "none",
  write: false,
  plugins: [virtual],
  logLevel: "warning",
  metafile: true,
});
if (showSizes) {
  const byPackage = new Map();
  const [output] = Object.values(result.metafile.outputs);
  for (const [file, info] of Object.entries(output.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = m ? m[1] : file.startsWith("virtual:") ? file : "web/verifier/src";
    byPackage.set(key, (byPackage.get(key) || 0) + info.bytesInOutput);
  }
  for (const [key, bytes] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${(bytes / 1024).toFixed(0).padStart(6)} KiB  ${key}`);
  }
}
if (libOnly) {
  const lib = result.outputFiles[0].text;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, lib);
  console.log(`wrote ${out} (${(lib.length / 1024).toFixed(0)} KiB)`);
  process.exit(0);
}
const js = result.outputFiles[0].text.replace(/<\/(script)/gi, "<\\/$1");
// Inside <script>, "<!--" followed by "<script" would change how the HTML parser reads the rest.
if (/<!--|<script/i.test(js)) throw new Error("the bundle contains '<!--' or '<script': cannot inline it safely");
const page = readFileSync(join(here, "page.html"), "utf8");
const marker = "<script>/*VERIFIER_BUNDLE*/</script>";
if (!page.includes(marker)) throw new Error("page.html has no bundle marker");
const html = page.replace(marker, () => `<script>${js}</script>`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, html);
console.log(`wrote ${out} (${(html.length / 1024).toFixed(0)} KiB)`);
