// Unit tests of mnist_demo/page/models.js (node --test tests/js/); the comparison with torch on
// 1,000 validation digits is in tests/test_page_parity.py.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const W = require("../../mnist_demo/page/weights.js");
const M = require("../../mnist_demo/page/models.js");
const { SHAPES, MAX_BYTES, safetensors, linearTensors } = require("./helpers.js");

test("the linear model is template . pixels + bias", () => {
  const model = W.loadModel("linear", safetensors(linearTensors(0.5), { model: "linear" }), SHAPES.linear, MAX_BYTES);
  const x = new Float32Array(784).fill(0.25);
  const logits = M.linearLogits(model, x);
  logits.forEach((v, k) => assert.ok(Math.abs(v - (k + 784 * 0.125)) < 1e-9));
  const out = M.predict(model, x);
  assert.equal(out.label, 9);
  assert.ok(Math.abs(out.probabilities.reduce((a, b) => a + b) - 1) < 1e-12);
});

test("the CNN's last ReLU follows the weights' final_relu", () => {
  const zero = (shape) => ({ shape, values: new Array(shape.reduce((a, b) => a * b, 1)).fill(0) });
  const tensors = Object.fromEntries(Object.entries(SHAPES.cnn).map(([k, s]) => [k, zero(s)]));
  tensors["conv3.bias"] = { shape: [10], values: [-1, 2, -3, 4, -5, 6, -7, 8, -9, 10] };
  const x = new Float32Array(784);
  const relu = W.loadModel("cnn", safetensors(tensors, { model: "cnn", final_relu: "true" }), SHAPES.cnn, MAX_BYTES);
  const raw = W.loadModel("cnn", safetensors(tensors, { model: "cnn", final_relu: "false" }), SHAPES.cnn, MAX_BYTES);
  assert.deepEqual(Array.from(M.cnnLogits(relu, x)), [0, 2, 0, 4, 0, 6, 0, 8, 0, 10]);
  assert.deepEqual(Array.from(M.cnnLogits(raw, x)), [-1, 2, -3, 4, -5, 6, -7, 8, -9, 10]);
});

