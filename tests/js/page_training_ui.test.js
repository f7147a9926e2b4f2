// Unit tests of the Train tab's "This device" mode's pure parts (node --test tests/js/):
// mnist_data.js (SHA-256, IDX, kept-or-fetched with the hash check), train_chart.js (the curves and
// their SVG), train_run.js (the state machine, the time left, keep-or-not, the closing sentence,
// the metadata, confusion and mistakes).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const zlib = require("node:zlib");
const D = require("../../mnist_demo/page/mnist_data.js");
const C = require("../../mnist_demo/page/train_chart.js");
const R = require("../../mnist_demo/page/train_run.js");
const T = require("../../mnist_demo/page/train.js");
const W = require("../../mnist_demo/page/weights.js");
const { SETUP, SHAPES } = require("./helpers.js");

const hex = (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");

// ------------------------------------------------------------------ SHA-256

test("sha256 equals node's for every length around the padding's edges, and for a large buffer", () => {
  for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 255);
    assert.equal(D.sha256(bytes), hex(bytes), `length ${n}`);
  }
  const big = crypto.randomBytes(3_000_001);
  assert.equal(D.sha256(new Uint8Array(big)), hex(big));
  assert.equal(D.sha256(new TextEncoder().encode("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

// ------------------------------------------------------------------ IDX

function idx(values, shape) {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header.writeUInt32BE(shape.length === 3 ? D.IMAGES_MAGIC : D.LABELS_MAGIC, 0);
  shape.forEach((n, i) => header.writeUInt32BE(n, 4 + 4 * i));
  return new Uint8Array(Buffer.concat([header, Buffer.from(values)]));
}

function digits(count, seed = 1) {
  const x = Uint8Array.from({ length: count * 784 }, (_, i) => (i * 7 + seed) & 255);
  const y = Uint8Array.from({ length: count }, (_, i) => (i + seed) % 10);
  return { images: idx(x, [count, 28, 28]), labels: idx(y, [count]), x, y };
}

test("parseIdx reads images and labels, and refuses a wrong magic, a short header or data", () => {
  const d = digits(3);
  const images = D.parseIdx(d.images, D.IMAGES_MAGIC);
  assert.deepEqual(images.shape, [3, 28, 28]);
  assert.deepEqual(Array.from(images.data), Array.from(d.x));
  assert.throws(() => D.parseIdx(d.images, D.LABELS_MAGIC), /wrong magic number 2051/);
  assert.throws(() => D.parseIdx(d.images.subarray(0, 5), D.IMAGES_MAGIC), /truncated file/);
  assert.throws(() => D.parseIdx(d.images.subarray(0, d.images.length - 1), D.IMAGES_MAGIC), /promises 2352 bytes of data, found 2351/);
  const ok = D.digitsOf(d.images, d.labels, "training");
  assert.equal(ok.count, 3);
  assert.throws(() => D.digitsOf(d.images, digits(2).labels, "training"), /3 images but 2 labels/);
  const bad = digits(3);
  bad.labels[bad.labels.length - 1] = 12;
  assert.throws(() => D.digitsOf(bad.images, bad.labels, "training"), /label 12 out of range/);
});

test("everyNth takes every n-th digit, as Python's x[::n]", () => {
  const d = D.digitsOf(digits(25).images, digits(25).labels, "v");
  const sub = D.everyNth(d, 10);
  assert.equal(sub.count, 3);
  assert.deepEqual(Array.from(sub.y), [d.y[0], d.y[10], d.y[20]]);
  assert.deepEqual(Array.from(sub.x.subarray(784, 1568)), Array.from(d.x.subarray(7840, 8624)));
});

// ------------------------------------------------------------------ fetched once, kept, checked

function server() {
  const sets = { train: digits(4, 1), valid: digits(2, 5) };
  const packed = {
    "train-images": zlib.gzipSync(sets.train.images), "train-labels": zlib.gzipSync(sets.train.labels),
    "valid-images": zlib.gzipSync(sets.valid.images), "valid-labels": zlib.gzipSync(sets.valid.labels),
  };
  const manifest = { version: 1, train: 4, valid: 2, files: {} };
  for (const [name, bytes] of Object.entries(packed)) {
    manifest.files[name] = { url: `mnist-data/${hex(bytes)}/${name}.idx.gz`, sha256: hex(bytes), bytes: bytes.length };
  }
  const fetched = [];
  const fetchBytes = async (url) => {
    fetched.push(url);
    const name = url.split("/").pop().replace(".idx.gz", "");
    return new Uint8Array(packed[name]);
  };
  return { sets, manifest, fetched, fetchBytes };
}

function memoryStore() {
  const map = new Map();
  return { map, get: async (k) => map.get(k), put: async (k, v) => { map.set(k, v); } };
}
const gunzip = async (bytes) => new Uint8Array(zlib.gunzipSync(bytes));

test("loadDigits downloads each file once; a second training reads them from the store", async () => {
  const { sets, manifest, fetched, fetchBytes } = server(), store = memoryStore();
  const first = await D.loadDigits(manifest, { store, fetchBytes, gunzip });
  assert.equal(fetched.length, 4);
  assert.equal(first.train.count, 4);
  assert.ok(first.train.x instanceof Uint8Array, "digits stay bytes");
  assert.deepEqual(Array.from(first.valid.y), Array.from(sets.valid.y));
  const events = [];
  const second = await D.loadDigits(manifest, { store, fetchBytes, gunzip, onEvent: (e) => events.push(e.from) });
  assert.equal(fetched.length, 4, "nothing downloaded the second time");
  assert.deepEqual(events, ["kept", "kept", "kept", "kept"]);
  assert.deepEqual(Array.from(second.train.x), Array.from(sets.train.x));
});

test("a kept file whose hash no longer matches is fetched again, and a damaged download is refused", async () => {
  const { manifest, fetched, fetchBytes } = server(), store = memoryStore();
  await D.loadDigits(manifest, { store, fetchBytes, gunzip });
  const kept = store.map.get("train-labels");
  kept.bytes = kept.bytes.slice();
  kept.bytes[kept.bytes.length - 1] ^= 1; // the stored copy damaged, its recorded hash unchanged
  store.map.set("valid-labels", { sha256: "0".repeat(64), bytes: store.map.get("valid-labels").bytes }); // an older server's file
  await D.loadDigits(manifest, { store, fetchBytes, gunzip });
  assert.deepEqual(fetched.slice(4).map((u) => u.split("/").pop()), ["train-labels.idx.gz", "valid-labels.idx.gz"]);
  assert.equal(store.map.get("valid-labels").sha256, manifest.files["valid-labels"].sha256);

  const damaged = async (url) => { const b = await fetchBytes(url); b[10] ^= 255; return b; };
  await assert.rejects(D.loadDigits(manifest, { store: memoryStore(), fetchBytes: damaged, gunzip }), /damaged on the way/);
  await assert.rejects(D.loadDigits({ version: 2 }, { store, fetchBytes, gunzip }), D.DataError);
});

test("a store that refuses to keep (full, private browsing) still trains, downloading each time", async () => {
  const { manifest, fetched, fetchBytes } = server();
  const refusing = { get: async () => { throw new Error("denied"); }, put: async () => { throw new Error("full"); } };
  await D.loadDigits(manifest, { store: refusing, fetchBytes, gunzip });
  await D.loadDigits(manifest, { store: null, fetchBytes, gunzip });
  assert.equal(fetched.length, 8);
});

// ------------------------------------------------------------------ the curves

test("addEvent smooths the training loss as ui_train.py does and places epochs on the x axis", () => {
  const c = C.createCurves();
  C.addEvent(c, { kind: "step", model: "cnn", epoch: 0, step: 10, steps: 20, loss: 2 });
  C.addEvent(c, { kind: "step", model: "cnn", epoch: 0, step: 20, steps: 20, loss: 1 });
  C.addEvent(c, { kind: "epoch", model: "cnn", epoch: 0, valid_loss: 0.9, valid_acc: 0.75 });
  assert.deepEqual(c.loss["cnn training"], [[0.5, 2], [1, 0.8 * 2 + 0.2 * 1]]);
  assert.deepEqual(c.loss["cnn validation"], [[1, 0.9]]);
  assert.deepEqual(c.acc["cnn accuracy"], [[1, 75]]);
});

test("layout maps the data's range onto the plot box, and chartSvg draws every series", () => {
  const series = { "linear accuracy": [[1, 80], [2, 90]] };
  const box = { width: 300, height: 200, pad: { left: 40, right: 10, top: 20, bottom: 30 }, epochs: 2 };
  const { lines, yRange } = C.layout(series, box);
  assert.deepEqual(yRange, [80, 90]);
  assert.equal(lines["linear accuracy"], "165.0,170.0 290.0,20.0"); // x 1 of 2 mid-plot, the lowest value at the bottom
  assert.deepEqual(C.extent([NaN, 3, 3], [0, 1]), [2.5, 3.5]);
  const svg = C.chartSvg({ ...series, "cnn accuracy": [[1, 60]] }, { title: "A <b>", epochs: 2 });
  assert.match(svg, /^<svg viewBox="0 0 360 200"/);
  assert.equal((svg.match(/<polyline/g) || []).length, 2);
  assert.match(svg, /A &lt;b&gt;/);
  assert.doesNotMatch(svg, /fill="#000|stroke="#000/, "axes and words in currentColor, for the dark theme");
  assert.match(C.legendHtml(series, { "linear accuracy": "Linear" }), /Linear/);
});

test("the y axis's labels take the decimals it needs to tell them apart: a fine-tune's tenth of a point", () => {
  assert.deepEqual(C.tickLabels([80, 85, 90], 0), ["80", "85", "90"]);
  assert.deepEqual(C.tickLabels([91.85, 91.9, 91.95], 0), ["91.85", "91.90", "91.95"]); // not "92" three times
  assert.deepEqual(C.tickLabels([0.2, 0.25, 0.3], 2), ["0.20", "0.25", "0.30"]);
  const svg = C.chartSvg({ "linear accuracy": [[1, 91.85], [2, 91.95]] }, { title: "t", epochs: 2, decimals: 0 });
  assert.deepEqual([...svg.matchAll(/dominant-baseline="middle">([^<]*)</g)].map((m) => m[1]), ["91.85", "91.90", "91.95"]);
});

// ------------------------------------------------------------------ the run

test("the state machine allows the contract's moves only", () => {
  assert.deepEqual(R.STATES, ["idle", "loading", "running", "done", "stopped", "failed"]);
  let s = "idle";
  for (const to of ["loading", "running", "stopped", "loading", "failed", "loading", "running", "done"]) s = R.move(s, to);
  assert.equal(s, "done");
  assert.throws(() => R.move("idle", "running"), /cannot go from idle to running/);
  assert.throws(() => R.move("done", "running"), /cannot go/);
  assert.ok(R.busy("loading") && R.busy("running") && !R.busy("done"));
});

test("checkedChanges holds the controls within presets.json's bounds and choices", () => {
  const settings = SETUP.training.settings;
  const got = R.checkedChanges(settings, { epochs: "0", limit: "123456", lr: "0.05", batch_size: "63.6", optimizer: "rmsprop",
    schedule: "onecycle", seed: "", augment: true });
  assert.deepEqual(got, { epochs: settings.epochs.low, limit: settings.limit.high, lr: 0.05, batch_size: 64, schedule: "onecycle", augment: true });
  assert.deepEqual(R.checkedChanges(settings, { lr: "abc", epochs: undefined, nonsense: 3 }), {});
});

test("etaSeconds: the time per step so far, for the steps left; nothing known before a step", () => {
  assert.equal(R.etaSeconds({ stepsDone: 0, totalSteps: 100, elapsed: 0 }), null);
  assert.equal(R.etaSeconds({ stepsDone: 25, totalSteps: 100, elapsed: 5 }), 15);
  assert.equal(R.etaSeconds({ stepsDone: 100, totalSteps: 100, elapsed: 9 }), 0);
  assert.equal(R.formatSeconds(null), "…");
  assert.equal(R.formatSeconds(42.4), "42 s");
  assert.equal(R.formatSeconds(125), "2 min 05 s");
});

test("a run never replaces a better kept model", () => {
  assert.ok(R.replaces(0.9, null));
  assert.ok(R.replaces(0.9, 0.9));
  assert.ok(!R.replaces(0.89, 0.9));
});

test("a failed run says whether memory ran out, and keeps the models that finished before it", () => {
  const memory = R.failureSentence(new RangeError("Array buffer allocation failed"), ["Linear"]);
  assert.match(memory, /^This device ran out of memory while training\. The Linear finished before it, and counts as a finished run does;/);
  assert.match(memory, /Try fewer digits/);
  const other = R.failureSentence(new Error("boom"), []);
  assert.match(other, /^The training failed \(boom\)\. Nothing of this run was kept;/);
  assert.doesNotMatch(other, /memory/);
  assert.match(R.failureSentence(new Error("Out of memory"), ["Linear", "CNN"]), /ran out of memory.*Linear and CNN finished before it, and count as/);
  // a worker's out-of-memory reaches the page as a plain Error with the worker's words
  assert.ok(R.outOfMemory(new Error("Uncaught RangeError: Array buffer allocation failed")));
  assert.ok(!R.outOfMemory(new Error("importScripts failed: 404")));
});

test("the verdict says how it ended, each model's accuracy, and which weights stay", () => {
  const last = { epoch: 1, valid_loss: 0.3, valid_acc: 0.9234, own_held_acc: 0.75 };
  const text = R.verdict({ stopped: false, seconds: 12.4, measured: "2,000 validation digits", target: 0.9,
    results: [{ title: "Linear", last, before: 0.91 }, { title: "CNN", last: { ...last, own_held_acc: null, valid_acc: 0.8 }, kept: 0.95 }] });
  assert.match(text, /^Finished after 12 s on this device\. Linear: 92\.34 % on 2,000 validation digits \(it started at 91\.00 %\), the 90\.0 % target reached, your held-out digits 75 %/);
  assert.match(text, /CNN: 80\.00 %.*target not reached; your earlier 95\.00 % weights stay/);
  assert.match(text, /The pad answers with your new weights now/);
  const stopped = R.verdict({ stopped: true, seconds: 1, measured: "x", results: [{ title: "CNN", last: null }] });
  assert.equal(stopped, "Stopped after 1 s on this device. CNN: stopped before its first epoch ended, nothing kept.");
});

test("metadataFor gives the server's keys, and the file it goes in loads in the page as the model", () => {
  const params = Object.fromEntries(Object.entries(SHAPES.linear).map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b, 1))]));
  const meta = R.metadataFor({ model: "linear", finalRelu: true, preset: "fast", config: { lr: 0.05 }, trainCount: 1000,
    validCount: 2000, validEvery: 10, last: { epoch: 0, valid_loss: 0.5, valid_acc: 0.85, own_held_acc: null }, seconds: 3,
    startedFrom: "shipped", own: 3, held: 1 });
  for (const key of ["model", "final_relu", "preset", "config", "split", "data_source", "valid_acc", "valid_loss", "epochs_done", "started_from", "own_digits"]) {
    assert.ok(key in meta, key);
  }
  const file = W.toSafetensors(params, SHAPES.linear, meta);
  const loaded = W.loadModel("linear", file, SHAPES.linear, SETUP.max_weights_bytes);
  assert.equal(loaded.name, "linear");
});

test("ownSets holds one in `every` of each label out, and packs both sets as bytes", () => {
  const heldOut = require("../../mnist_demo/page/trainer.js").heldOut;
  const list = Array.from({ length: 12 }, (_, i) => ({ label: i % 3, pixels: Buffer.from(new Uint8Array(784).fill(i)).toString("base64") }));
  const { own, held } = R.ownSets(list, 4, heldOut, W.base64ToBytes);
  const out = heldOut(list.map((d) => d.label), 4);
  assert.equal(held.count, out.filter(Boolean).length);
  assert.equal(own.count + held.count, 12);
  assert.ok(held.count >= 2 && held.count <= 3, "about a quarter");
  const firstHeld = out.indexOf(true);
  assert.equal(held.y[0], list[firstHeld].label);
  assert.equal(held.x[0], firstHeld); // its pixels, decoded
  assert.ok(own.x instanceof Uint8Array && own.x.length === own.count * 784);
});

test("confusion counts rows by the true digit; the worst mistakes are the most confident wrong answers", () => {
  const labels = Uint8Array.from([1, 1, 2, 3]), pred = Uint8Array.from([1, 2, 2, 5]), conf = Float32Array.from([0.9, 0.6, 0.8, 0.99]);
  const m = R.confusion(labels, pred);
  assert.equal(m[1][1], 1);
  assert.equal(m[1][2], 1);
  assert.equal(m[3][5], 1);
  assert.deepEqual(R.worstMistakes(labels, pred, conf).map((w) => w.index), [3, 1]);
});

test("predictAll gives each digit's top class and its softmax probability", () => {
  const net = T.createNet("linear", { finalRelu: true });
  const params = Object.fromEntries(Object.entries(SHAPES.linear).map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b, 1))]));
  params["lin.bias"][7] = Math.log(9); // 7 wins with probability 9 / (9 + 9) = 0.5
  const found = R.predictAll(net, params, { x: new Uint8Array(2 * 784), y: new Uint8Array(2), count: 2 }, 256);
  assert.deepEqual(Array.from(found.pred), [7, 7]);
  assert.ok(Math.abs(found.conf[0] - 0.5) < 1e-6);
});

test("a fine-tune on your own digits says which epoch it kept, or that the start stayed", () => {
  const kept = R.choiceSentence({ epoch: 1, tried: 3, held_before: 0.5, held_after: 0.75, valid_before: 0.9675, valid_after: 0.9601 });
  assert.equal(kept, "the fine-tune kept epoch 2 of 3 epochs: your held-out digits 50 % → 75 %, MNIST validation 96.75 % → 96.01 % (within a point).");
  const start = R.choiceSentence({ epoch: -1, tried: 1, held_before: 0.5, held_after: 0.5, valid_before: 0.9675, valid_after: 0.9675 });
  assert.match(start, /^the fine-tune tried 1 epoch, but none kept MNIST validation within 1 point of the start \(96\.75 %\).*unchanged\.$/);
});
