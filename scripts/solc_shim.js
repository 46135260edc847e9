#!/usr/bin/env node
// A `solc` command line on top of the official WASM build (npm `solc`), for offline use.
// Implements what py-solc-x and ape-solidity need: `--version` in the native format and
// `--standard-json` on stdin, with an import callback that honours --base-path,
// --include-path, --allow-paths and the input's remappings.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

const args = process.argv.slice(2);
const basePaths = [];
const includePaths = [];
const allowPaths = [];
const cliRemappings = [];
let standardJson = false;

for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const next = () => {
    if (i + 1 >= args.length) fail(`option ${a} needs a value`);
    return args[++i];
  };
  if (a === '--version' || a === '-v') {
    const long = solc.version().replace('Emscripten.clang', 'Linux.g++');
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${long}\n`);
    process.exit(0);
  } else if (a === '--standard-json') standardJson = true;
  else if (a === '--base-path') basePaths.push(next());
  else if (a.startsWith('--base-path=')) basePaths.push(a.slice(12));
  else if (a === '--include-path') includePaths.push(next());
  else if (a.startsWith('--include-path=')) includePaths.push(a.slice(15));
  else if (a === '--allow-paths') allowPaths.push(...next().split(','));
  else if (a.startsWith('--allow-paths=')) allowPaths.push(...a.slice(14).split(','));
  else if (/^[^-][^=]*=/.test(a)) cliRemappings.push(a);
  else if (a === '--help') {
    process.stdout.write('usage: solc --standard-json [--base-path P] [--include-path P] [--allow-paths P,...] < input.json\n');
    process.exit(0);
  } else if (a.startsWith('-')) {
    // Options we do not need (e.g. --pretty-json) are ignored rather than fatal.
  }
}

function fail(message) {
  process.stderr.write(`solc shim: ${message}\n`);
  process.exit(1);
}

if (!standardJson) fail('only --standard-json mode is supported by this shim');

const input = fs.readFileSync(0, 'utf8');
let parsed;
try {
  parsed = JSON.parse(input);
} catch (e) {
  fail(`input is not JSON: ${e.message}`);
}
const remappings = [...cliRemappings, ...((parsed.settings && parsed.settings.remappings) || [])]
  .map((r) => {
    const body = r.includes(':') ? r.slice(r.indexOf(':') + 1) : r;
    const eq = body.indexOf('=');
    return { prefix: body.slice(0, eq), target: body.slice(eq + 1) };
  })
  .filter((r) => r.prefix.length > 0)
  .sort((a, b) => b.prefix.length - a.prefix.length);

const roots = [...basePaths, ...includePaths];
if (roots.length === 0) roots.push(process.cwd());
const allowed = [...roots, ...allowPaths].map((p) => path.resolve(p));

function isAllowed(file) {
  const resolved = path.resolve(file);
  return allowed.some((dir) => resolved === dir || resolved.startsWith(dir + path.sep));
}

function findImports(importPath) {
  let candidate = importPath;
  for (const r of remappings) {
    if (candidate.startsWith(r.prefix)) {
      candidate = r.target + candidate.slice(r.prefix.length);
      break;
    }
  }
  const tries = path.isAbsolute(candidate) ? [candidate] : roots.map((root) => path.join(root, candidate));
  for (const file of tries) {
    if (fs.existsSync(file) && fs.statSync(file).isFile()) {
      if (!isAllowed(file)) return { error: `${file} is outside the allowed paths` };
      return { contents: fs.readFileSync(file, 'utf8') };
    }
  }
  return { error: `File not found: ${importPath} (looked in ${tries.join(', ')})` };
}

const output = solc.compile(input, { import: findImports });
// solcjs may print warnings on stdout; keep only the JSON document.
const start = output.indexOf('{');
process.stdout.write(start >= 0 ? output.slice(start) : output);
process.stdout.write('\n');
