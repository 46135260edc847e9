// Build the self-contained verifier page: bundle src/main.js with esbuild (IIFE, no module
// loading at run time), with the JSON Schemas of the Python package compiled to standalone Ajv
// validators and the registry ABI from registry/artifacts/CredentialRegistry.json, and inline it
// into page.html. Usage: node web/verifier/build.mjs [OUT] (default registry/artifacts/verifier.html).
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import * as esbuild from "esbuild";
import Ajv2019 from "ajv/dist/2019.js";
import standaloneCode from "ajv/dist/standalone/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const out = resolve(process.argv[2] || join(root, "registry", "artifacts", "verifier.html"));
const require = createRequire(import.meta.url);

const readJson = (...p) => JSON.parse(readFileSync(join(root, ...p), "utf8"));
const fileSchema = readJson("registry", "schemas", "credential-file-v1.schema.json");
const ob3Schema = readJson("registry", "schemas", "ob3", "achievementcredential.schema.json");
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
ajv.addSchema({ ...ob3Schema, $schema: undefined }, "ob3");
const validators = standaloneCode(ajv, { validateFile: "file", validateOb3: "ob3" });

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
      return null;
    });
  },
};

const result = await esbuild.build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  legalComments: "none",
  write: false,
  plugins: [virtual],
  logLevel: "warning",
});
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
