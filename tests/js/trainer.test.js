// Unit tests of mnist_demo/page/trainer.js and train_worker.js (node --test tests/js/): a batch split
// across workers, in this thread or in real worker threads running train_worker.js, gives the
// one-worker step; the presets read from presets.json (compared with Python's in tests/test_page_training.py).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { Worker } = require("node:worker_threads");
const T = require("../../mnist_demo/page/train.js");
const R = require("../../mnist_demo/page/trainer.js");
const { PAGE, SETUP, SHAPES } = require("./helpers.js");

const training = SETUP.training;

function random(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

function startingParams(name, seed) {
  const draw = random(seed), params = {};
  for (const [key, shape] of Object.entries(SHAPES[name])) {
    params[key] = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (draw() * 2 - 1) * 0.3);
  }
  if (name === "cnn") params["conv3.bias"].fill(1); // as the one-cycle presets start it (class_bias_init)
  return params;
}

function batches(count, n, seed) {
  const draw = random(seed);
  return Array.from({ length: count }, () => ({
    x: Float32Array.from({ length: n * T.PIXELS }, () => (draw() < 0.8 ? 0 : draw())), // mostly background, as digits
    labels: Int32Array.from({ length: n }, () => Math.floor(draw() * 10)),
  }));
}

/** `steps` steps of the fast preset from the same start with the given workers: the weights after. */
async function train(name, workers, steps = 3, n = 64) {
  const config = R.presetConfig(training, "fast");
  const run = R.createRun({ model: name, params: startingParams(name, 1), config, training, totalSteps: 20 });
  const losses = [];
  for (const { x, labels } of batches(steps, n, 2)) losses.push(await R.trainStep(run, workers, x, labels, n));
  return { params: run.params, losses };
}

function maxDifference(a, b) {
  let worst = 0;
  for (const key of Object.keys(a)) for (let i = 0; i < a[key].length; i++) worst = Math.max(worst, Math.abs(a[key][i] - b[key][i]));
  return worst;
}

test("a preset is presets.json's defaults with its changes", () => {
  const fast = R.presetConfig(training, "fast");
  assert.equal(fast.schedule, "onecycle");
  assert.equal(fast.batch_size, training.settings.batch_size.default);
  for (const [key, value] of Object.entries(training.presets.fast.changes)) assert.equal(fast[key], value);
  assert.equal(R.presetConfig(training, "tutorial", { epochs: 1 }).epochs, 1);
  assert.throws(() => R.presetConfig(training, "no such preset"));
  assert.throws(() => R.presetConfig(training, "fast", { learning_rate: 1 }));
});

test("a batch is split into as even slices as can be, covering every digit once", () => {
  assert.deepEqual(R.splitBatch(64, 2), [[0, 32], [32, 64]]);
  assert.deepEqual(R.splitBatch(10, 3), [[0, 4], [4, 7], [7, 10]]);
  assert.deepEqual(R.splitBatch(1, 4), [[0, 1]]); // a last batch smaller than the workers
});

for (const name of SETUP.names) {
  test(`${name}: a batch split across 2 or 3 workers gives the one-worker step`, async () => {
    const finalRelu = true;
    const one = await train(name, [R.inProcessWorker(name, finalRelu)]);
    for (const count of [2, 3]) {
      const many = await train(name, Array.from({ length: count }, () => R.inProcessWorker(name, finalRelu)));
      assert.ok(maxDifference(one.params, many.params) < 1e-6, `${count} workers`);
      many.losses.forEach((loss, k) => assert.ok(Math.abs(loss - one.losses[k]) < 1e-9));
    }
    // The comparison can fail: other steps give other weights.
    const shorter = await train(name, [R.inProcessWorker(name, finalRelu)], 2);
    assert.ok(maxDifference(one.params, shorter.params) > 1e-4);
  });
}

test("real worker threads running train_worker.js give the one-worker step", async () => {
  const name = "cnn", finalRelu = true;
  const threads = [0, 1].map(() => new Worker(path.join(PAGE, "train_worker.js")));
  try {
    const clients = threads.map((w) => R.workerClient(w, name, finalRelu));
    const parallel = await train(name, clients);
    const one = await train(name, [R.inProcessWorker(name, finalRelu)]);
    assert.ok(maxDifference(one.params, parallel.params) < 1e-6);
  } finally {
    await Promise.all(threads.map((w) => w.terminate()));
  }
});

test("a worker answers with its slice's summed loss and gradients", () => {
  const state = {}, params = startingParams("linear", 3), [{ x, labels }] = batches(1, 5, 4);
  assert.equal(R.answerWorkerMessage(state, { model: "linear", finalRelu: true }), null);
  const { reply, transfer } = R.answerWorkerMessage(state, { params, x, labels, n: 5 });
  const grads = T.newGradients(params), net = T.createNet("linear");
  const loss = T.accumulate(net, params, grads, x, labels, 0, 5);
  assert.equal(reply.loss, loss);
  assert.equal(maxDifference(reply.grads, grads), 0);
  assert.equal(transfer.length, Object.keys(params).length);
});

test("one worker per core the browser reports, capped, one core spared for a serving laptop", () => {
  assert.equal(R.workerCount({ cores: 8, cap: 4 }), 4);
  assert.equal(R.workerCount({ cores: 2, cap: 4 }), 2);
  assert.equal(R.workerCount({ cores: 2, cap: 4, spareOne: true }), 1);
  assert.equal(R.workerCount({ cores: 1, cap: 4, spareOne: true }), 1);
  assert.equal(R.workerCount({ cores: undefined, cap: 4 }), 1); // a browser that does not say
});

test("without Web Workers, or when one cannot be made, the run trains on the main thread and says so", async () => {
  const none = R.startWorkers("linear", true, 2, null);
  assert.equal(none.inWorkers, false);
  assert.equal(none.workers.length, 1);
  let made = 0;
  const failing = R.startWorkers("linear", true, 2, () => {
    if (made++ === 1) throw new Error("SecurityError");
    return { postMessage() {}, addEventListener() {}, terminate() {} };
  });
  assert.equal(failing.inWorkers, false);
  const one = await train("linear", [R.inProcessWorker("linear", true)]);
  const fallback = await train("linear", failing.workers);
  assert.equal(maxDifference(one.params, fallback.params), 0);
  const threads = R.startWorkers("cnn", true, 2, () => new Worker(path.join(PAGE, "train_worker.js")));
  try {
    assert.equal(threads.inWorkers, true);
    assert.equal(threads.workers.length, 2);
  } finally {
    await Promise.all(threads.workers.map((w) => w.terminate()));
  }
});

test("each epoch's order is a permutation, the same for the same seed", () => {
  const a = R.shuffle(new Uint32Array(1000), R.seededRandom(3)), b = R.shuffle(new Uint32Array(1000), R.seededRandom(3));
  assert.deepEqual(a, b);
  assert.deepEqual(Array.from(a).sort((p, q) => p - q), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual(a, R.shuffle(new Uint32Array(1000), R.seededRandom(4)));
});

test("a run stopped between two events keeps what it trained", async () => {
  const draw = random(9), count = 200;
  const digits = () => ({ x: Uint8Array.from({ length: count * T.PIXELS }, () => Math.floor(draw() * 256)),
    y: Uint8Array.from({ length: count }, () => Math.floor(draw() * 10)), count });
  const params = startingParams("linear", 5), before = Float32Array.from(params["lin.weight"]);
  const config = R.presetConfig(training, "fast", { batch_size: 16 });
  const run = R.trainEpochs({ model: "linear", params, config, training, data: digits(), valid: digits(),
    workers: [R.inProcessWorker("linear", true)], scale: SETUP.recipe.pixel_scale, logEvery: 5 });
  const first = await run.next();
  assert.deepEqual({ ...first.value, loss: 0 }, { kind: "step", epoch: 0, step: 5, steps: 13, loss: 0 });
  await run.return(); // Stop
  assert.ok(maxDifference({ w: before }, { w: params["lin.weight"] }) > 0);
});

test("new weights: uniform in +-1/sqrt(fan_in) as torch starts them, conv3.bias at class_bias_init", () => {
  for (const name of SETUP.names) {
    const fast = R.presetConfig(training, "fast"), params = R.newParams(name, SHAPES[name], fast);
    assert.deepEqual(Object.keys(params).sort(), Object.keys(SHAPES[name]).sort());
    for (const [key, values] of Object.entries(params)) {
      assert.equal(values.length, SHAPES[name][key].reduce((a, b) => a * b, 1), key);
      if (key === "conv3.bias") { assert.ok(values.every((v) => v === fast.class_bias_init)); continue; }
      const weight = SHAPES[name][key.replace(".bias", ".weight")];
      const bound = 1 / Math.sqrt(weight.slice(1).reduce((a, b) => a * b, 1));
      const largest = Math.max(...values.map(Math.abs));
      assert.ok(largest <= bound && (values.length < 20 || largest > 0.8 * bound), `${key}: ${largest} against ${bound}`);
    }
    assert.deepEqual(R.newParams(name, SHAPES[name], fast), params); // the same seed, the same weights
    assert.notDeepEqual(R.newParams(name, SHAPES[name], { ...fast, seed: 1 }), params);
  }
  const tutorial = R.newParams("cnn", SHAPES.cnn, R.presetConfig(training, "tutorial")); // PyTorch's own bias
  assert.ok(Math.max(...tutorial["conv3.bias"].map(Math.abs)) <= 1 / Math.sqrt(16 * 9));
});
