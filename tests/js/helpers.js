// Shared by the page's unit tests: the repo's paths, what the page is sent (SETUP: read from
// Python once, so the tests use the same shapes, recipe and limits as the page and cannot
// drift from Python), and a writer of .safetensors files for the weights tests.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const ROOT = path.join(__dirname, "..", "..");
const PAGE = path.join(ROOT, "mnist_demo", "page");
const PYTHON = process.env.PYTHON || "python3";

/** mnist_demo.page_assets.page_setup(): the pad's `setup`, exactly as the page receives it.
 * Python (with torch) takes seconds to start, and `node --test` runs each file in a process of
 * its own: the files of one run share one answer, kept in a temporary file named after the run
 * and used only if it is newer than every Python file and recipe.json; earlier runs' files go once an hour old. */
function pageSetup() {
  const cache = path.join(os.tmpdir(), `mnist-page-setup-${process.ppid}.json`);
  const sources = fs.readdirSync(path.join(ROOT, "mnist_demo")).filter((f) => /\.(py|json)$/.test(f));
  const newest = Math.max(...sources.map((f) => fs.statSync(path.join(ROOT, "mnist_demo", f)).mtimeMs));
  try {
    if (fs.statSync(cache).mtimeMs > newest) return JSON.parse(fs.readFileSync(cache, "utf8"));
  } catch { /* no cache yet */ }
  const text = execFileSync(PYTHON, ["-c", "import json; from mnist_demo.page_assets import page_setup; print(json.dumps(page_setup()))"],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  fs.writeFileSync(`${cache}.${process.pid}`, text);
  fs.renameSync(`${cache}.${process.pid}`, cache); // whole or absent, for the other test files
  for (const name of fs.readdirSync(os.tmpdir())) { // earlier runs' answers (a run cannot tell when it ends)
    const old = path.join(os.tmpdir(), name);
    try {
      const stale = Date.now() - fs.statSync(old).mtimeMs > 3_600_000;
      if (/^mnist-page-setup-\d+\.json$/.test(name) && old !== cache && stale) fs.rmSync(old);
    } catch { /* another run's, removed meanwhile */ }
  }
  return JSON.parse(text);
}
const SETUP = pageSetup();
const { recipe, shapes: SHAPES, max_weights_bytes: MAX_BYTES } = SETUP;
const shipped = (name) => new Uint8Array(fs.readFileSync(path.join(ROOT, "weights", `${name}.safetensors`)));

/** A safetensors file, written the way the format says, for the rejection tests. */
function safetensors(tensors, metadata = {}, { dtype = "F32", headerOverride } = {}) {
  const header = { __metadata__: metadata };
  let offset = 0;
  for (const [name, { shape, values }] of Object.entries(tensors)) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + 4 * values.length] };
    offset += 4 * values.length;
  }
  const json = Buffer.from(JSON.stringify(headerOverride ? headerOverride(header) : header));
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const { values } of Object.values(tensors)) for (const v of values) { out.writeFloatLE(v, at); at += 4; }
  return new Uint8Array(out);
}

function linearTensors(fill = 0) {
  return {
    "lin.weight": { shape: SHAPES.linear["lin.weight"], values: new Array(SHAPES.linear["lin.weight"].reduce((a, b) => a * b)).fill(fill) },
    "lin.bias": { shape: SHAPES.linear["lin.bias"], values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
  };
}


module.exports = { ROOT, PAGE, SETUP, recipe, SHAPES, MAX_BYTES, shipped, safetensors, linearTensors };
