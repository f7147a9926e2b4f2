// Unit tests of mnist_demo/page/train.js and optim.js (node --test tests/js/). The comparison with
// PyTorch on real MNIST batches is tests/test_page_training.py; these check the mathematics on
// their own: gradients against finite differences, and no allocation per sample.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const T = require("../../mnist_demo/page/train.js");
const O = require("../../mnist_demo/page/optim.js");
const { SETUP, SHAPES } = require("./helpers.js");

/** A small seeded generator (the tests' draws are the same every run). */
function random(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** Parameters of the shapes Python sends (setup.shapes), uniform in [-scale, scale). */
function randomParams(name, draw, Kind = Float32Array, scale = 0.4) {
  const params = {};
  for (const [key, shape] of Object.entries(SHAPES[name])) {
    params[key] = Kind.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (draw() * 2 - 1) * scale);
  }
  if (name === "cnn") params["conv3.bias"].fill(0.5); // the presets' live start: every class's scores above 0
  return params;
}

function randomBatch(n, draw) {
  return { x: Float32Array.from({ length: n * T.PIXELS }, () => draw()), labels: Int32Array.from({ length: n }, (_, i) => (i * 7) % 10) };
}

for (const [name, finalRelu] of [["linear", true], ["cnn", true], ["cnn", false]]) {
  test(`${name}${name === "cnn" ? ` (final ReLU ${finalRelu})` : ""}: every gradient is the loss's slope (finite differences)`, () => {
    // In double precision throughout (parameters and the net's buffers), so that a central
    // difference with a tiny step is exact to ~1e-9 and a wrong gradient cannot hide in rounding.
    const draw = random(7), n = 4;
    const params = randomParams(name, draw, Float64Array);
    const net = T.createNet(name, { finalRelu });
    if (net.out) {
      net.out = net.out.map((a) => new Float64Array(a.length));
      net.dOut = net.dOut.map((a) => new Float64Array(a.length));
    }
    const { x, labels } = randomBatch(n, draw);
    const grads = T.newGradients(params), scratch = T.newGradients(params);
    T.lossAndGradients(net, params, grads, x, labels, n);
    const h = 1e-6;
    let checked = 0, nonZero = 0;
    for (const [key, p] of Object.entries(params)) {
      for (let t = 0; t < 12; t++) {
        const i = Math.floor(draw() * p.length), old = p[i];
        p[i] = old + h;
        const up = T.lossAndGradients(net, params, scratch, x, labels, n);
        p[i] = old - h;
        const down = T.lossAndGradients(net, params, scratch, x, labels, n);
        p[i] = old;
        const slope = (up - down) / (2 * h);
        assert.ok(Math.abs(slope - grads[key][i]) < 1e-6, `${key}[${i}]: gradient ${grads[key][i]}, slope ${slope}`);
        checked += 1;
        nonZero += grads[key][i] !== 0;
      }
    }
    assert.ok(nonZero > 0.75 * checked, "most of the checked gradients are not zero");
  });
}

test("the loss is the mean of -log softmax(label), as F.cross_entropy", () => {
  const logits = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), d = new Float64Array(10);
  const loss = T.crossEntropy(logits, 3, d);
  const total = logits.reduce((a, v) => a + Math.exp(v), 0);
  assert.ok(Math.abs(loss - (Math.log(total) - 4)) < 1e-12);
  assert.ok(Math.abs(d.reduce((a, b) => a + b)) < 1e-12); // softmax sums to 1, the one-hot too
  assert.ok(Math.abs(T.crossEntropy(Float64Array.from([1000, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 0, d)) < 1e-12); // no overflow
});

test("the training forward pass is the page's own (models.js)", () => {
  const M = require("../../mnist_demo/page/models.js");
  const draw = random(3);
  for (const name of SETUP.names) {
    const params = randomParams(name, draw);
    const net = T.createNet(name, { finalRelu: true }), x = randomBatch(1, draw).x;
    const mine = T.logitsOf(net, params, x), theirs = M.predict({ name, tensors: params, finalRelu: true }, x).logits;
    mine.forEach((v, k) => assert.ok(Math.abs(v - theirs[k]) < 1e-5, `${name} logit ${k}`));
  }
});

/** How many typed arrays `fn` constructs: the global constructors are swapped for counting ones
 * while it runs (train.js and optim.js look them up when they allocate). */
function typedArraysMadeBy(fn) {
  const originals = { Float32Array, Float64Array };
  let made = 0;
  for (const [name, Kind] of Object.entries(originals)) {
    globalThis[name] = class extends Kind { constructor(...a) { super(...a); made += 1; } };
  }
  try { fn(); } finally { Object.assign(globalThis, originals); }
  return made;
}

test("a training step allocates nothing per sample, and a net's buffers serve every batch", () => {
  const draw = random(5);
  for (const name of SETUP.names) {
    const params = randomParams(name, draw), net = T.createNet(name), grads = T.newGradients(params);
    const opt = O.createOptimizer("adam", SETUP.training.optimizers.adam);
    const small = randomBatch(2, draw), large = randomBatch(64, draw);
    const step = ({ x, labels }) => {
      T.lossAndGradients(net, params, grads, x, labels, labels.length);
      O.optimizerStep(opt, params, grads, 1e-3, 0.9);
    };
    step(small); // the optimizer's state is made on its first step
    assert.equal(typedArraysMadeBy(() => step(small)), 0, name);
    assert.equal(typedArraysMadeBy(() => { for (let k = 0; k < 3; k++) step(large); }), 0, name);
  }
  // The count can fail: an array made per sample is seen.
  assert.equal(typedArraysMadeBy(() => { for (let s = 0; s < 64; s++) new Float32Array(16); }), 64);
});

test("SGD's first step is -lr * gradient; Adam's first moves every weight by about lr", () => {
  const p = Float32Array.from([1, 2, 3]), g = { w: Float64Array.from([0.5, -2, 0]) };
  const sgd = O.createOptimizer("sgd", SETUP.training.optimizers.sgd);
  O.optimizerStep(sgd, { w: p }, g, 0.1);
  assert.deepEqual(Array.from(p), [1 - 0.05, 2 + 0.2, 3].map(Math.fround));
  O.optimizerStep(sgd, { w: p }, g, 0.1); // the running sum: 0.9 * g + g
  assert.ok(Math.abs(p[0] - (0.95 - 0.1 * 1.9 * 0.5)) < 1e-6);
  const q = Float32Array.from([1, 2, 3]);
  O.optimizerStep(O.createOptimizer("adam", SETUP.training.optimizers.adam), { w: q }, g, 0.01);
  [0.99, 2.01, 3].forEach((v, i) => assert.ok(Math.abs(q[i] - v) < 1e-6, `${i}: ${q[i]}`));
});

test("one-cycle climbs from max/div to max at pct_start, then down to max/div/final_div", () => {
  const o = SETUP.training.schedules.onecycle, total = 1000, max = 0.05;
  const s = O.oneCycle(max, total, o, 0.9);
  assert.ok(Math.abs(s.lr(0) - max / o.div_factor) < 1e-15);
  assert.ok(Math.abs(s.lr(o.pct_start * total - 1) - max) < 1e-15);
  assert.ok(Math.abs(s.lr(total - 1) - max / o.div_factor / o.final_div_factor) < 1e-15);
  assert.equal(s.momentum(0), o.max_momentum);
  assert.ok(Math.abs(s.momentum(o.pct_start * total - 1) - o.base_momentum) < 1e-15);
  for (let k = 1; k < total; k++) assert.ok(k < o.pct_start * total ? s.lr(k) > s.lr(k - 1) : s.lr(k) <= s.lr(k - 1), `${k}`);
  assert.throws(() => s.lr(total + 1), RangeError);
});
