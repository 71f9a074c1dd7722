// node20-fs-globsync.mjs supplies fs.globSync on Node.js versions that lack it
// (it arrived in Node 22). @modelcontextprotocol/conformance imports it by name
// from "fs", so its whole CLI fails to load on Node 20 ("The requested module
// 'fs' does not provide an export named 'globSync'") although only its
// tier-check calls it, with patterns like "**/checks.json".
//
// Use it as a preload:
//
//   node --import ./test/interop/node20-fs-globsync.mjs \
//     node_modules/@modelcontextprotocol/conformance/dist/index.js --help
//
// Assigning fs.globSync is not enough for ES modules: the export names of a
// built-in module are fixed before any user code runs. So, when the function
// is missing, this file also registers itself as a module customization hook
// whose resolve step answers imports of "fs" and "node:fs" with a small
// module that re-exports node:fs and adds globSync. On a Node.js that has
// fs.globSync the file does nothing.

import { createRequire, register } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const fs = require("node:fs");
const missing = typeof fs.globSync !== "function";
const self = new URL(import.meta.url);
self.search = "";

// The module served instead of "fs". Its own import of node:fs must reach the
// real module, which resolve recognises by the parent's URL.
const shim =
  "data:text/javascript," +
  encodeURIComponent(
    `import fs from "node:fs";\n` +
      `import { globSync } from ${JSON.stringify(self.href)};\n` +
      `export * from "node:fs";\n` +
      `export { globSync };\n` +
      `export default fs;\n`,
  );

if (missing && !import.meta.url.includes("?hooks")) {
  fs.globSync = globSync; // for require("fs") callers
  register(self.href + "?hooks");
}

// resolve is the module customization hook (used only in the hooks thread).
export async function resolve(specifier, context, nextResolve) {
  if (
    missing &&
    (specifier === "fs" || specifier === "node:fs") &&
    context.parentURL !== shim &&
    !String(context.parentURL).startsWith(self.href)
  ) {
    return { url: shim, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

// globSync returns the paths under options.cwd (default process.cwd())
// that match any of the patterns. Relative patterns give paths relative to
// cwd, absolute patterns give absolute paths, as Node's own fs.globSync does.
// Supported syntax: "*", "?", "**" (zero or more directories), "[...]",
// "{a,b}". options.exclude may be a function of the path or a list of
// patterns. options.withFileTypes is not supported.
export function globSync(patterns, options = {}) {
  if (options.withFileTypes) {
    throw new Error("node20-fs-globsync: withFileTypes is not supported");
  }
  const cwd = options.cwd ? path.resolve(String(options.cwd)) : process.cwd();
  const list = Array.isArray(patterns) ? patterns : [patterns];
  const excludes = [];
  let excludeFn = null;
  if (typeof options.exclude === "function") {
    excludeFn = options.exclude;
  } else if (Array.isArray(options.exclude)) {
    for (const p of options.exclude) excludes.push(globToRegExp(toSlash(p)));
  }

  const found = new Set();
  for (const raw of list) {
    const pattern = toSlash(String(raw));
    const absolute = path.isAbsolute(pattern);
    const base = staticPrefix(pattern); // directory part without magic
    const root = absolute ? base || "/" : path.join(cwd, base);
    const re = globToRegExp(pattern);
    for (const rel of walk(root)) {
      const candidate = base ? path.posix.join(base, rel) : rel;
      if (!re.test(candidate)) continue;
      if (excludes.some((x) => x.test(candidate))) continue;
      if (excludeFn && excludeFn(candidate)) continue;
      found.add(absolute ? candidate : candidate.split("/").join(path.sep));
    }
  }
  return [...found];
}

function toSlash(p) {
  return p.split(path.sep).join("/");
}

// staticPrefix is the leading directories of pattern that hold no glob magic.
function staticPrefix(pattern) {
  const parts = pattern.split("/");
  const fixed = [];
  for (let i = 0; i < parts.length - 1; i++) {
    if (/[*?[\]{}]/.test(parts[i])) break;
    fixed.push(parts[i]);
  }
  if (fixed.length === 1 && fixed[0] === "") return "/";
  return fixed.join("/");
}

// walk lists every file and directory below root, relative to it, with "/".
function walk(root) {
  let entries;
  try {
    entries = fs.readdirSync(root, { recursive: true });
  } catch (err) {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return [];
    throw err;
  }
  return entries.map((e) => toSlash(String(e)));
}

// globToRegExp translates one glob pattern into an anchored regular
// expression over "/"-separated paths.
function globToRegExp(glob) {
  let re = "";
  let inClass = false;
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (inClass) {
      if (c === "]") inClass = false;
      re += c === "\\" ? "\\\\" : c;
      continue;
    }
    switch (c) {
      case "*":
        if (glob[i + 1] === "*") {
          const atStart = i === 0 || glob[i - 1] === "/";
          const atEnd = i + 2 === glob.length || glob[i + 2] === "/";
          if (atStart && atEnd) {
            if (glob[i + 2] === "/") {
              re += "(?:[^/]*(?:/|$))*"; // "**/": zero or more directories
              i += 2;
            } else {
              re += ".*";
              i += 1;
            }
            continue;
          }
        }
        re += "[^/]*";
        break;
      case "?":
        re += "[^/]";
        break;
      case "[":
        inClass = true;
        re += glob[i + 1] === "!" ? (i++, "[^") : "[";
        break;
      case "{":
        braces++;
        re += "(?:";
        break;
      case "}":
        if (braces > 0) {
          braces--;
          re += ")";
        } else {
          re += "\\}";
        }
        break;
      case ",":
        re += braces > 0 ? "|" : ",";
        break;
      default:
        re += c.replace(/[.+^$()|\\]/g, "\\$&");
    }
  }
  return new RegExp("^" + re + "$");
}
