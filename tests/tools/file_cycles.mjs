// No C file of src/ calls back into a file that calls it (review: one-way chains — an entry
// file calls stages, stages call helpers, helpers call nothing above them). Reads every
// src/**/*.c, finds its functions with external linkage and the other files' calls to them
// (comments and strings left out), and fails with the cycle when one file reaches itself.
// usage: node tests/tools/file_cycles.mjs [src]
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = process.argv[2] ?? new URL("../../src", import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".c")) files.push(p);
  }
})(root);
if (files.length === 0) {
  console.error(`file_cycles: no C files under ${root}`);
  process.exit(2);
}

// the code without comments, string and character literals
const bare = (text) =>
  text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, (m) =>
    m.startsWith("/") ? " " : '""');

const code = new Map(files.map((f) => [f, bare(readFileSync(f, "utf8"))]));
const definedIn = new Map(); // function name -> file
for (const [f, text] of code) {
  // a definition: at the start of a line, not static, a name, its parameters, then a brace
  const def = /^(?!static\b)[A-Za-z_][\w \t*]*?\b(\w+)\(([^;{}()]|\([^()]*\))*\)\s*\{/gm;
  for (const m of text.matchAll(def)) if (m[1].length > 2 && !definedIn.has(m[1])) definedIn.set(m[1], f);
}
const calls = new Map(files.map((f) => [f, new Set()]));
for (const [f, text] of code)
  for (const m of text.matchAll(/\b(\w+)\s*\(/g)) {
    const to = definedIn.get(m[1]);
    if (to && to !== f) calls.get(f).add(to);
  }

// a cycle: a path from a file back to itself (depth-first, the path kept)
const state = new Map(); // undefined: not seen, 1: on the path, 2: done
const path = [];
let cycle = null;
function visit(f) {
  state.set(f, 1);
  path.push(f);
  for (const g of calls.get(f)) {
    if (cycle) return;
    if (state.get(g) === 1) cycle = path.slice(path.indexOf(g)).concat(g);
    else if (!state.has(g)) visit(g);
  }
  path.pop();
  state.set(f, 2);
}
for (const f of files) if (!state.has(f) && !cycle) visit(f);

const name = (f) => relative(root, f);
if (cycle) {
  console.log(`FAIL: files that call each other: ${cycle.map(name).join(" -> ")}`);
  process.exit(1);
}
let edges = 0;
for (const s of calls.values()) edges += s.size;
console.log(`ok: ${files.length} C files, ${definedIn.size} functions, ${edges} file-to-file calls, no cycle`);
