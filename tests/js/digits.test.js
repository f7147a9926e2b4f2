// Unit tests of the page's pure code (mnist_demo/page/digits.js), with Node's own runner:
//   node --test tests/js/
// The comparison with the Python reference on real data is in tests/test_page_parity.py.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const D = require("../../mnist_demo/page/digits.js");

const ROOT = path.join(__dirname, "..", "..");
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

/** An ink map with a filled disc or a bar, as a canvas would hold it (alpha 0..255). */
function inkMap(h, w, inside) {
  const ink = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) ink[y * w + x] = inside(y, x) ? 255 : 0;
  return ink;
}

test("roundHalfEven rounds like Python's round()", () => {
  for (const [x, r] of [[0.5, 0], [1.5, 2], [2.5, 2], [7.5, 8], [6.5, 6], [2.4999, 2], [2.5001, 3], [3, 3]]) {
    assert.equal(D.roundHalfEven(x), r, `round(${x})`);
  }
});

test("resizeLanczos keeps a flat image flat and copies an image of the same size", () => {
  const flat = new Float32Array(37 * 53).fill(0.75);
  const out = D.resizeLanczos(flat, 37, 53, 11, 20);
  assert.equal(out.length, 11 * 20);
  for (const v of out) assert.ok(Math.abs(v - 0.75) < 1e-6);
  const same = D.resizeLanczos(flat, 37, 53, 37, 53);
  assert.notEqual(same, flat);
  assert.deepEqual(same, flat);
});

test("squaredDistances equals a brute-force search on random images", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 20; trial++) {
    const h = 3 + Math.floor(random() * 20), w = 3 + Math.floor(random() * 20);
    const site = Array.from({ length: h * w }, () => random() < 0.15);
    site[Math.floor(random() * h * w)] = true;
    const d2 = D.squaredDistances(h, w, (i) => site[i]);
    for (let i = 0; i < h * w; i++) {
      let best = Infinity;
      for (let j = 0; j < h * w; j++) {
        if (site[j]) best = Math.min(best, (Math.floor(i / w) - Math.floor(j / w)) ** 2 + ((i % w) - (j % w)) ** 2);
      }
      assert.equal(d2[i], best);
    }
  }
});

test("strokeWidth measures a bar's width (in pixel centres: W + 2, as in Python)", () => {
  let last = 0;
  for (const width of [4, 8, 12]) {
    const shape = inkMap(60, 60, (y, x) => x >= 20 && x < 20 + width && y >= 5 && y < 55).map((v) => v / 255);
    const measured = D.strokeWidth(shape, 60, 60);
    assert.ok(Math.abs(measured - (width + 2)) < 0.1 * width, `width ${width}: ${measured}`);
    assert.ok(measured > last);
    last = measured;
  }
});

test("inkToMnist: nothing drawn, or a speck, is no digit", () => {
  assert.equal(D.inkToMnist(new Uint8Array(448 * 448), 448, 448, recipe), null);
  assert.equal(D.inkToMnist(inkMap(448, 448, (y, x) => y === 200 && x >= 200 && x < 202), 448, 448, recipe), null);
  const faint = inkMap(448, 448, (y, x) => (x - 224) ** 2 + (y - 224) ** 2 < 2500).map((v) => (v ? 5 : 0));
  assert.equal(D.inkToMnist(faint, 448, 448, recipe), null); // under min_peak of full ink
});

test("inkToMnist centres a digit's mass, fits it in the box and scales like training", () => {
  const ring = inkMap(300, 500, (y, x) => {
    const r = Math.hypot(y - 80, x - 400);
    return r > 40 && r < 60;
  });
  const digit = D.inkToMnist(ring, 300, 500, recipe);
  assert.equal(digit.length, 28 * 28);
  let total = 0, cy = 0, cx = 0, top = 28, bottom = -1;
  digit.forEach((v, i) => {
    total += v; cy += v * Math.floor(i / 28); cx += v * (i % 28);
    if (v > 0.05) { top = Math.min(top, Math.floor(i / 28)); bottom = Math.max(bottom, Math.floor(i / 28)); }
  });
  assert.ok(Math.abs(cy / total - recipe.centre) < 0.1 && Math.abs(cx / total - recipe.centre) < 0.1);
  assert.ok(bottom - top + 1 <= recipe.box + 1 && bottom - top + 1 >= recipe.box - 2);
  assert.ok(Math.max(...digit) <= 255 / recipe.pixel_scale + 1e-7);
});

test("inkToMnist brings a bold stroke into MNIST's width range", () => {
  const bold = inkMap(400, 400, (y, x) => Math.hypot(y - 200, x - 200) < 180 && Math.hypot(y - 200, x - 200) > 90); // a very bold 0
  const thin = D.inkToMnist(bold, 400, 400, recipe);
  const plain = D.inkToMnist(bold, 400, 400, recipe, false);
  const inked = (d) => d.filter((v) => v > 0.5).length;
  assert.ok(inked(thin) < inked(plain), "the normalised stroke is thinner");
});

test("alphaOf takes the alpha channel of RGBA pixels", () => {
  assert.deepEqual(Array.from(D.alphaOf(Uint8ClampedArray.from([1, 2, 3, 4, 5, 6, 7, 8]))), [4, 8]);
});

test("the shipped weights load, with the metadata the server wrote", () => {
  for (const name of ["linear", "cnn"]) {
    const model = D.loadModel(name, shipped(name), SHAPES[name]);
    assert.equal(model.name, name);
    for (const [key, shape] of Object.entries(SHAPES[name])) {
      assert.equal(model.tensors[key].length, shape.reduce((a, b) => a * b, 1));
    }
  }
  assert.equal(D.loadModel("cnn", shipped("cnn"), SHAPES.cnn).finalRelu, true);
});

test("bad weights are refused with a reason", () => {
  const good = safetensors(linearTensors(), { model: "linear" });
  assert.ok(D.loadModel("linear", good, SHAPES.linear));
  const cases = {
    "too short": good.slice(0, 5),
    "header claims": good.slice(0, 100),
    "not valid JSON": (() => { const b = good.slice(); b[9] = 0x7b; b[10] = 0x7b; return b; })(),
    "expected F32": safetensors(linearTensors(), { model: "linear" }, { dtype: "F16" }),
    "wrong tensors": safetensors({ "lin.weight": linearTensors()["lin.weight"] }, { model: "linear" }),
    "has shape": safetensors({ ...linearTensors(), "lin.bias": { shape: [5, 2], values: new Array(10).fill(0) } }, { model: "linear" }),
    "NaN or infinite": safetensors({ ...linearTensors(), "lin.bias": { shape: [10], values: [NaN, ...new Array(9).fill(0)] } }, { model: "linear" }),
    "bad data offsets": safetensors(linearTensors(), { model: "linear" }, {
      headerOverride: (h) => ({ ...h, "lin.bias": { ...h["lin.bias"], data_offsets: [0, 99999] } }) }),
    "expected linear": safetensors(linearTensors(), { model: "cnn" }),
    "final_relu": safetensors(linearTensors(), { model: "linear", final_relu: "maybe" }),
    "not a JSON object": (() => { const b = Buffer.alloc(12); b.writeUInt32LE(4, 0); b.write("[1] ", 8); return new Uint8Array(b); })(),
  };
  for (const [reason, bytes] of Object.entries(cases)) {
    assert.throws(() => D.loadModel("linear", bytes, SHAPES.linear), (e) => e instanceof D.WeightsError && e.message.includes(reason), reason);
  }
  assert.throws(() => D.parseSafetensors(new Uint8Array(2_000_000), SHAPES.linear), /under/);
});

test("the linear model is template . pixels + bias", () => {
  const model = D.loadModel("linear", safetensors(linearTensors(0.5), { model: "linear" }), SHAPES.linear);
  const x = new Float32Array(784).fill(0.25);
  const logits = D.linearLogits(model, x);
  logits.forEach((v, k) => assert.ok(Math.abs(v - (k + 784 * 0.125)) < 1e-9));
  const out = D.predict(model, x);
  assert.equal(out.label, 9);
  assert.ok(Math.abs(out.probabilities.reduce((a, b) => a + b) - 1) < 1e-12);
});

test("the CNN's last ReLU follows the weights' final_relu", () => {
  const zero = (shape) => ({ shape, values: new Array(shape.reduce((a, b) => a * b, 1)).fill(0) });
  const tensors = Object.fromEntries(Object.entries(SHAPES.cnn).map(([k, s]) => [k, zero(s)]));
  tensors["conv3.bias"] = { shape: [10], values: [-1, 2, -3, 4, -5, 6, -7, 8, -9, 10] };
  const x = new Float32Array(784);
  const relu = D.loadModel("cnn", safetensors(tensors, { model: "cnn", final_relu: "true" }), SHAPES.cnn);
  const raw = D.loadModel("cnn", safetensors(tensors, { model: "cnn", final_relu: "false" }), SHAPES.cnn);
  assert.deepEqual(Array.from(D.cnnLogits(relu, x)), [0, 2, 0, 4, 0, 6, 0, 8, 0, 10]);
  assert.deepEqual(Array.from(D.cnnLogits(raw, x)), [-1, 2, -3, 4, -5, 6, -7, 8, -9, 10]);
});

test("every recipe constant the page uses is in recipe.json", () => {
  const source = fs.readFileSync(path.join(ROOT, "mnist_demo", "page", "digits.js"), "utf8");
  const used = new Set([...source.matchAll(/(?<![\w/])recipe\.([a-z_]+)/g)].map((m) => m[1]));
  assert.ok(used.has("stroke_range") && used.has("box"));
  for (const key of used) assert.ok(key in recipe, key);
});
