// The page's training speed, for benchmarks/page_training.py (which writes SPEC and reads the JSON
// this prints): samples a second of a training step (train.js + optim.js through trainer.js) at
// SPEC's batch size, on the main thread and across 1..N workers running train_worker.js, and of the
// forward pass alone (the baseline, in the same run). Under Node, with worker threads:
//   node benchmarks/page_training.js SPEC   SPEC: {model, training, config, params {name: base64 float32},
//                                           x: base64 float32 digits, labels, batch, seconds, slice, workers: [1, 2]}
// In Chromium (page_training.py --browser), the page loads this file and calls measurePageTraining
// with Web Workers made from the page's own files.
"use strict";

/** Samples a second of each variant: the forward pass alone, a training step on this thread, and
 * one across each of spec.workers' counts of workers. `env`: {T: train.js, R: trainer.js,
 * newWorker: () => a Worker running train_worker.js}; `floats`: base64 -> Float32Array. */
async function measurePageTraining(spec, { T, R, newWorker, floats }) {
  const x = floats(spec.x), labels = Int32Array.from(spec.labels), batch = spec.batch;
  const batches = Math.floor(labels.length / batch);
  const newParams = () => Object.fromEntries(Object.entries(spec.params).map(([k, v]) => [k, floats(v)]));

  /** The variants take turns of spec.slice seconds until each has had spec.seconds, so that a
   * change in this shared machine's load falls on all of them alike and their ratios hold. */
  // Under Node, also the CPU time of the whole process (every thread): samples per CPU second,
  // which the other jobs on a shared machine disturb far less than the wall clock.
  const cpuNow = typeof process === "object" && process.cpuUsage ? () => process.cpuUsage() : null;
  async function rates(variants) {
    const done = {}, time = {}, cpu = {};
    for (const [name, step] of Object.entries(variants)) {
      for (let k = 0; k < 5; k++) await step(k % batches); // warm-up: the engine compiles the loops
      done[name] = 0;
      time[name] = 0;
      cpu[name] = 0;
    }
    while (Object.values(time).some((t) => t < spec.seconds * 1000)) {
      for (const [name, step] of Object.entries(variants)) {
        const start = performance.now(), cpuStart = cpuNow && cpuNow();
        while (performance.now() - start < spec.slice * 1000) await step(done[name]++ % batches);
        time[name] += performance.now() - start;
        if (cpuNow) {
          const used = process.cpuUsage(cpuStart);
          cpu[name] += (used.user + used.system) / 1000;
        }
      }
    }
    const out = {};
    for (const name of Object.keys(variants)) {
      out[name] = (done[name] * batch) / (time[name] / 1000);
      if (cpuNow) out[`cpu_${name}`] = (done[name] * batch) / (cpu[name] / 1000);
    }
    return out;
  }

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
    const mine = Array.from({ length: count }, newWorker);
    threads.push(...mine);
    variants[`workers_${count}`] = training(mine.map((w) => R.workerClient(w, spec.model, spec.config.final_relu)));
  }
  try {
    return await rates(variants);
  } finally {
    await Promise.all(threads.map((w) => w.terminate()));
  }
}

if (typeof module === "object" && require.main === module) { // under Node: the page's files, worker threads
  const fs = require("node:fs");
  const path = require("node:path");
  const { Worker } = require("node:worker_threads");
  const PAGE = path.join(__dirname, "..", "mnist_demo", "page");
  const floats = (text) => {
    const b = Buffer.from(text, "base64");
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  measurePageTraining(spec, { T: require(path.join(PAGE, "train.js")), R: require(path.join(PAGE, "trainer.js")),
    newWorker: () => new Worker(path.join(PAGE, "train_worker.js")), floats })
    .then((out) => process.stdout.write(JSON.stringify(out)))
    .catch((e) => { console.error(e); process.exit(1); });
}
