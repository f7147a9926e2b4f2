// Runs the page's training code (mnist_demo/page/train.js, optim.js, trainer.js) on what a Python test
// wrote (tests/test_page_training.py), so that it can be compared with PyTorch's on real data.
//   node train_cli.js steps SPEC OUT      SPEC: {model, training (presets.json), config (a TrainConfig),
//                                         total_steps, params {name: base64 float32}, batches [{x: base64
//                                         float32, labels}], workers}; OUT: [{loss, lr, momentum,
//                                         grads {name: [...]}, params {name: [...]}}], one per batch
//   node train_cli.js schedule SPEC OUT   SPEC: {training, config, total_steps}; OUT: {lr: [...], momentum: [...]}
//                                         for steps 0 .. total_steps
//   node train_cli.js presets SPEC OUT    SPEC: {training}; OUT: {name: the preset's config, as trainer.js reads it}
//   node train_cli.js train SPEC OUT      SPEC: {model, training, config, params, shapes, scale, workers, train,
//                                         valid and optionally own, own_held: {x: base64 uint8 digits, y: labels}};
//                                         OUT: {events (trainEpochs'),
//                                         safetensors: base64 of the trained weights as the page downloads them}
//   node train_cli.js own SPEC OUT        SPEC: {labels: [[...]], every, repeats: [[mnist rows, own digits, share]]};
//                                         OUT: {held: [[bool]], repeats: [n]}: which are held out, ownRepeats
//   node train_cli.js augment SPEC OUT    SPEC: {x: base64 float32 digits, u: base64 float32, 5 draws in [-1, 1) a
//                                         digit, augmentation (presets.json's)}; OUT: {x: the digits augmented, as a list}
"use strict";
const fs = require("node:fs");
const trainer = require("../../mnist_demo/page/trainer.js");
const weights = require("../../mnist_demo/page/weights.js");
const augment = require("../../mnist_demo/page/augment.js");
const optim = require("../../mnist_demo/page/optim.js");

const floats = (text) => {
  const bytes = Buffer.from(text, "base64");
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

async function steps(spec) {
  const params = Object.fromEntries(Object.entries(spec.params).map(([k, v]) => [k, floats(v)]));
  const run = trainer.createRun({ model: spec.model, params, config: spec.config, training: spec.training,
    totalSteps: spec.total_steps });
  const workers = Array.from({ length: spec.workers || 1 }, () => trainer.inProcessWorker(spec.model, spec.config.final_relu));
  const out = [];
  for (const batch of spec.batches) {
    const x = floats(batch.x), labels = Int32Array.from(batch.labels);
    const lr = run.schedule.lr(run.step), momentum = run.schedule.momentum(run.step);
    const loss = await trainer.trainStep(run, workers, x, labels, labels.length);
    const list = (tensors) => Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, Array.from(v)]));
    out.push({ loss, lr, momentum, grads: list(run.grads), params: list(run.params) });
  }
  return out;
}

function schedule(spec) {
  const s = optim.scheduleFor(spec.config, spec.training, spec.total_steps);
  const at = Array.from({ length: spec.total_steps + 1 }, (_, k) => k);
  return { lr: at.map((k) => s.lr(k)), momentum: at.map((k) => s.momentum(k)) };
}

function presets(spec) {
  return Object.fromEntries(Object.keys(spec.training.presets).map((name) => [name, trainer.presetConfig(spec.training, name)]));
}

async function train(spec) {
  const params = Object.fromEntries(Object.entries(spec.params).map(([k, v]) => [k, floats(v)]));
  const digits = ({ x, y }) => ({ x: new Uint8Array(Buffer.from(x, "base64")), y: Uint8Array.from(y), count: y.length });
  const workers = Array.from({ length: spec.workers }, () => trainer.inProcessWorker(spec.model, spec.config.final_relu));
  const events = [];
  const own = spec.own ? digits(spec.own) : null, ownHeld = spec.own_held ? digits(spec.own_held) : null;
  for await (const event of trainer.trainEpochs({ model: spec.model, params, config: spec.config, training: spec.training,
    data: digits(spec.train), valid: digits(spec.valid), workers, scale: spec.scale, own, ownHeld })) events.push(event);
  const file = weights.toSafetensors(params, spec.shapes, { model: spec.model, final_relu: String(spec.config.final_relu) });
  return { events, safetensors: Buffer.from(file).toString("base64") };
}

function augmented(spec) {
  const x = floats(spec.x), u = floats(spec.u), out = new Float32Array(x.length), moved = new Float32Array(augment.PIXELS);
  for (let s = 0; s < x.length / augment.PIXELS; s++) {
    augment.augmentDigit(x, s * augment.PIXELS, out, s * augment.PIXELS, u.subarray(5 * s, 5 * s + 5), moved,
      spec.augmentation);
  }
  return { x: Array.from(out) };
}

function own(spec) {
  return { held: spec.labels.map((labels) => trainer.heldOut(labels, spec.every)),
    repeats: spec.repeats.map(([rows, digits, share]) => trainer.ownRepeats(rows, digits, share)) };
}

const COMMANDS = { steps, schedule, presets, train, augment: augmented, own };
const [command, specPath, outPath] = process.argv.slice(2);
if (!COMMANDS[command] || !outPath) {
  console.error("usage: train_cli.js steps|schedule|presets|train|own|augment SPEC OUT");
  process.exit(2);
}
Promise.resolve(COMMANDS[command](JSON.parse(fs.readFileSync(specPath, "utf8"))))
  .then((result) => fs.writeFileSync(outPath, JSON.stringify(result)))
  .catch((e) => { console.error(e); process.exit(1); });
