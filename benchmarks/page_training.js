// The page's training speed under Node, for benchmarks/page_training.py (which writes SPEC and reads
// the JSON this prints): samples a second of a training step (train.js + optim.js through
// trainer.js) at SPEC's batch size, on the main thread and across 1..N worker threads running
// train_worker.js, and of the forward pass alone (the baseline, in the same run).
//   node benchmarks/page_training.js SPEC   SPEC: {model, training, config, params {name: base64 float32},
//                                           x: base64 float32 digits, labels, batch, seconds, slice, workers: [1, 2]}
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { Worker } = require("node:worker_threads");
const PAGE = path.join(__dirname, "..", "mnist_demo", "page");
const T = require(path.join(PAGE, "train.js"));
const R = require(path.join(PAGE, "trainer.js"));

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const floats = (text) => {
  const b = Buffer.from(text, "base64");
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const x = floats(spec.x), labels = Int32Array.from(spec.labels), batch = spec.batch;
const batches = Math.floor(labels.length / batch);
const newParams = () => Object.fromEntries(Object.entries(spec.params).map(([k, v]) => [k, floats(v)]));

/** Samples a second of each variant's `step(k)` (k: the batch's index). The variants take turns of
 * spec.slice seconds until each has had spec.seconds, so that a change in this shared machine's
 * load falls on all of them alike and their ratios hold. */
async function rates(variants) {
  const done = {}, time = {};
  for (const [name, step] of Object.entries(variants)) {
    for (let k = 0; k < 5; k++) await step(k % batches); // warm-up: V8 compiles the loops
    done[name] = 0;
    time[name] = 0;
  }
  while (Object.values(time).some((t) => t < spec.seconds * 1000)) {
    for (const [name, step] of Object.entries(variants)) {
      const start = performance.now();
      while (performance.now() - start < spec.slice * 1000) await step(done[name]++ % batches);
      time[name] += performance.now() - start;
    }
  }
  return Object.fromEntries(Object.keys(variants).map((name) => [name, (done[name] * batch) / (time[name] / 1000)]));
}

async function main() {
  const net = T.createNet(spec.model, { finalRelu: spec.config.final_relu }), params = newParams();
  const training = (workers) => {
    const run = R.createRun({ model: spec.model, params: newParams(), config: spec.config, training: spec.training,
      totalSteps: 1e9 });
    return (k) => R.trainStep(run, workers, x.subarray(k * batch * T.PIXELS), labels.subarray(k * batch), batch);
  };
  const variants = {
    forward: async (k) => {
      for (let s = k * batch; s < (k + 1) * batch; s++) T.logitsOf(net, params, x, s * T.PIXELS);
    },
    main_thread: training([R.inProcessWorker(spec.model, spec.config.final_relu)]),
  };
  const threads = [];
  for (const count of spec.workers) {
    const mine = Array.from({ length: count }, () => new Worker(path.join(PAGE, "train_worker.js")));
    threads.push(...mine);
    variants[`workers_${count}`] = training(mine.map((w) => R.workerClient(w, spec.model, spec.config.final_relu)));
  }
  try {
    process.stdout.write(JSON.stringify(await rates(variants)));
  } finally {
    await Promise.all(threads.map((w) => w.terminate()));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
