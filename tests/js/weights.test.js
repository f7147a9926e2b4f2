// Unit tests of mnist_demo/page/weights.js (node --test tests/js/).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const W = require("../../mnist_demo/page/weights.js");
const { SHAPES, MAX_BYTES, shipped, safetensors, linearTensors } = require("./helpers.js");

test("the shipped weights load, with the metadata the server wrote", () => {
  for (const name of ["linear", "cnn"]) {
    const model = W.loadModel(name, shipped(name), SHAPES[name], MAX_BYTES);
    assert.equal(model.name, name);
    for (const [key, shape] of Object.entries(SHAPES[name])) {
      assert.equal(model.tensors[key].length, shape.reduce((a, b) => a * b, 1));
    }
  }
  assert.equal(W.loadModel("cnn", shipped("cnn"), SHAPES.cnn, MAX_BYTES).finalRelu, true);
});

test("bad weights are refused with a reason", () => {
  const good = safetensors(linearTensors(), { model: "linear" });
  assert.ok(W.loadModel("linear", good, SHAPES.linear, MAX_BYTES));
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
    assert.throws(() => W.loadModel("linear", bytes, SHAPES.linear, MAX_BYTES), (e) => e instanceof W.WeightsError && e.message.includes(reason), reason);
  }
  assert.throws(() => W.parseSafetensors(new Uint8Array(MAX_BYTES + 1), SHAPES.linear, MAX_BYTES), /under/);
  assert.throws(() => W.parseSafetensors(good, SHAPES.linear), TypeError); // no silent default limit
});


test("weights written by the page read back exactly, as the app's files do", () => {
  const model = W.loadModel("cnn", shipped("cnn"), SHAPES.cnn, MAX_BYTES);
  const bytes = W.toSafetensors(model.tensors, SHAPES.cnn, { model: "cnn", final_relu: "true", trained_in: "page" });
  const again = W.loadModel("cnn", bytes, SHAPES.cnn, MAX_BYTES);
  for (const [name, values] of Object.entries(model.tensors)) assert.deepEqual(again.tensors[name], values, name);
  const headerLength = new DataView(bytes.buffer).getUint32(0, true);
  assert.equal(headerLength % 8, 0);
  assert.equal(W.parseSafetensors(bytes, SHAPES.cnn, MAX_BYTES).metadata.trained_in, "page");
});
