// Shared by the page's unit tests: the repo's paths, the models' tensor shapes, and a writer of
// .safetensors files for the weights tests.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..", "..");
const PAGE = path.join(ROOT, "mnist_demo", "page");
const recipe = JSON.parse(fs.readFileSync(path.join(ROOT, "mnist_demo", "recipe.json"), "utf8"));
const SHAPES = {
  linear: { "lin.weight": [10, 784], "lin.bias": [10] },
  cnn: {
    "conv1.weight": [16, 1, 3, 3], "conv1.bias": [16], "conv2.weight": [16, 16, 3, 3], "conv2.bias": [16],
    "conv3.weight": [10, 16, 3, 3], "conv3.bias": [10],
  },
};
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
    "lin.weight": { shape: [10, 784], values: new Array(7840).fill(fill) },
    "lin.bias": { shape: [10], values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
  };
}


module.exports = { ROOT, PAGE, recipe, SHAPES, shipped, safetensors, linearTensors };
