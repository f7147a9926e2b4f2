// Runs the page's code (mnist_demo/page/*.js) on inputs written by the Python tests (tests/test_page_parity.py), so the
// page's code can be compared with the Python reference on real data without a browser.
//   node page_cli.js preprocess IN OUT   IN: [n, h, w] as 3 uint32 then n*h*w uint8 ink maps;
//                                          OUT: n*784 float32 (NaN-filled when nothing is drawn)
//   node page_cli.js forward W_JSON IN OUT   W_JSON: {"setup" (page_setup()), "linear", "cnn" (base64)};
//                                          IN: n*784 float32; OUT: n*20 float64 (linear, cnn logits)
//   node page_cli.js bytes IN OUT        IN: n*784 float32 digits; OUT: n*784 uint8, as the page stores them
"use strict";
const fs = require("fs");
const path = require("path");
const recipes = require("../../mnist_demo/page/recipe.js");
const weights = require("../../mnist_demo/page/weights.js");
const models = require("../../mnist_demo/page/models.js");
const store = require("../../mnist_demo/page/store.js");
const recipe = JSON.parse(fs.readFileSync(path.join(__dirname, "../../mnist_demo/recipe.json"), "utf8"));

const [command, ...args] = process.argv.slice(2);
if (command === "preprocess") {
  const buf = fs.readFileSync(args[0]);
  const [n, h, w] = [0, 1, 2].map((i) => buf.readUInt32LE(4 * i));
  const out = new Float32Array(n * 784).fill(NaN);
  for (let k = 0; k < n; k++) {
    const ink = new Uint8Array(buf.buffer, buf.byteOffset + 12 + k * h * w, h * w);
    const digit = recipes.inkToMnist(ink, h, w, recipe);
    if (digit) out.set(digit, k * 784);
  }
  fs.writeFileSync(args[1], Buffer.from(out.buffer));
} else if (command === "forward") {
  const spec = JSON.parse(fs.readFileSync(args[0], "utf8"));
  const { names, shapes, max_weights_bytes: maxBytes } = spec.setup;
  const nets = names.map((name) => weights.loadModel(name, weights.base64ToBytes(spec[name]), shapes[name], maxBytes));
  const buf = fs.readFileSync(args[1]);
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const n = x.length / 784, out = new Float64Array(n * 10 * nets.length);
  for (let k = 0; k < n; k++) {
    const digit = x.subarray(k * 784, (k + 1) * 784);
    nets.forEach((m, j) => out.set(models.predict(m, digit).logits, (k * nets.length + j) * 10));
  }
  fs.writeFileSync(args[2], Buffer.from(out.buffer));
} else if (command === "bytes") {
  const buf = fs.readFileSync(args[0]);
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  fs.writeFileSync(args[1], Buffer.from(store.digitBytes(x, recipe.pixel_scale)));
} else {
  console.error("usage: page_cli.js preprocess IN OUT | forward W_JSON IN OUT | bytes IN OUT");
  process.exit(2);
}
