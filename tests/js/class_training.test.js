// Unit tests of mnist_demo/page/class_training.js (node --test tests/js/): the teacher's page's
// pure parts on real inputs. The class's drawings are the route's own answer (Python makes a class
// and asks classes/page_routes.py), the recipe is presets.json's, the weights are the shipped files,
// and the upload the page builds is handed back to the route's own checks.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const K = require("../../mnist_demo/page/class_training.js");
const R = require("../../mnist_demo/page/trainer.js");
const W = require("../../mnist_demo/page/weights.js");
const S = require("../../mnist_demo/page/store.js");
const C = require("../../mnist_demo/page/train_chart.js");
const { ROOT, SETUP, SHAPES, MAX_BYTES, shipped } = require("./helpers.js");

const PYTHON = process.env.PYTHON || "python3";
const python = (code, ...args) => execFileSync(PYTHON, ["-c", code, ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });

// What the page builds, made first, so that one Python process (seconds to start, with torch)
// answers every question below: the summary's notes, and the upload of the shipped weights.
const NOTES = K.classNotes({ before: { held_acc: 0.5, valid_acc: 0.97 }, after: { held_acc: 0.75, valid_acc: 0.965 },
  heldBest: 0.8, drawings: 20, heldOut: 5, validCount: 2000, validEvery: 10 });
const SUMMARY_NOTES = { linear: NOTES, cnn: { ...NOTES, held_after: 0.8, held_best: 0.8, class_held_out: 40 } };
const UPLOAD = (() => {
  const bytes = {}, notes = {};
  for (const name of SETUP.names) {
    const model = W.loadModel(name, shipped(name), SHAPES[name], MAX_BYTES);
    bytes[name] = W.toSafetensors(K.copyParams(model.tensors), SHAPES[name], { model: name, final_relu: String(model.finalRelu) });
    notes[name] = NOTES;
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "class-upload-")), "body.json");
  fs.writeFileSync(file, K.uploadBody(bytes, notes, S.bytesToBase64));
  return file;
})();

// Python's answers: a class of 23 drawings (labels 0..9, then 0..9, then 0..2) in a temporary
// database and what GET /class-page/drawings answers its teacher, with Python's own split beside
// it; the server's class_model_summary of SUMMARY_NOTES; and the route's checks of UPLOAD.
const PY = JSON.parse(python(`
import json, sys, tempfile
import numpy as np
from mnist_demo.classes.page_routes import ClassPageRoutes, checked_upload, class_drawings
from mnist_demo.classes.store import Classroom, to_digits
from mnist_demo.classes.views import class_model_summary
with tempfile.TemporaryDirectory() as folder, Classroom(folder) as room:
    new = room.create_class()
    student, rng = room.join(new.code, "c"), np.random.default_rng(7)
    for i in range(23):
        room._keeps.forget([student])
        room.add_drawing(new.code, student, i + 1, i % 10, 0, 0, rng.integers(0, 256, 784, dtype=np.uint8).tobytes())
    own, held = to_digits(room.drawings(new.code)).split()
    route = {"answer": class_drawings(ClassPageRoutes(room), new.teacher_token),
             "own_labels": own.labels.tolist(), "held_labels": held.labels.tolist(), "held_first": held.pixels[0].tolist()}
notes = json.loads(sys.argv[1])
summary = class_model_summary({n: {k: str(v) for k, v in m.items()} for n, m in notes.items()})
blobs, checked = checked_upload(open(sys.argv[2], "rb").read())
print(json.dumps({"route": route, "summary": summary, "upload": {"models": sorted(blobs), "notes": checked}}))
`, JSON.stringify(SUMMARY_NOTES), UPLOAD));
fs.rmSync(path.dirname(UPLOAD), { recursive: true, force: true }); // Python has read it
const ROUTE_ANSWER = PY.route;

test("decodeDrawings reads the route's own answer as Python's split, as bytes", () => {
  const got = K.decodeDrawings(ROUTE_ANSWER.answer, W.base64ToBytes);
  assert.deepEqual([...got.train.y], ROUTE_ANSWER.own_labels);
  assert.deepEqual([...got.held.y], ROUTE_ANSWER.held_labels);
  assert.equal(got.drawings, 23);
  assert.ok(got.held.count > 0 && got.held.x instanceof Uint8Array && got.held.x.length === got.held.count * 784);
  assert.deepEqual([...got.held.x.subarray(0, 784)], ROUTE_ANSWER.held_first);
});

test("decodeDrawings refuses an answer that is not 28×28 digits with digit labels", () => {
  const answer = ROUTE_ANSWER.answer;
  const broken = [
    { ...answer, train: { ...answer.train, pixels: answer.train.pixels.slice(0, 100) } },
    { ...answer, held: { ...answer.held, labels: [...answer.held.labels.slice(1), 10] } },
    { ...answer, held: { ...answer.held, count: answer.held.count + 1 } },
    { ...answer, train: undefined }, null];
  for (const body of broken) assert.throws(() => K.decodeDrawings(body, W.base64ToBytes), K.DrawingsError);
});

test("classConfig is presets.json's fine-tune, on at most the cap's MNIST digits, from the start's final ReLU", () => {
  const preset = R.presetConfig(SETUP.training, "fine-tune");
  assert.ok(Number.isInteger(preset.limit) && preset.limit > 500);
  const full = K.classConfig(SETUP.training, { mnistCap: undefined, finalRelu: false });
  assert.deepEqual(full, { ...preset, final_relu: false, target_acc: null });
  assert.equal(K.classConfig(SETUP.training, { mnistCap: 500, finalRelu: true }).limit, 500);
  assert.equal(K.classConfig(SETUP.training, { mnistCap: 10 ** 9, finalRelu: true }).limit, preset.limit);
  assert.equal(K.classConfig(SETUP.training, { mnistCap: -3, finalRelu: true }).limit, preset.limit);
});

test("chooseCheckpoint keeps the best held-out weights within a point of MNIST, else the start", () => {
  const start = { held_acc: 0.6, held_loss: 1.0, valid_acc: 0.97 };
  const within = { held_acc: 0.7, held_loss: 0.9, valid_acc: 0.961 };
  const overBudget = { held_acc: 0.9, held_loss: 0.5, valid_acc: 0.95 };
  const sameButLowerLoss = { held_acc: 0.7, held_loss: 0.8, valid_acc: 0.965 };
  assert.equal(K.chooseCheckpoint(start, [within, overBudget], 0.01), within);
  assert.equal(K.chooseCheckpoint(start, [within, sameButLowerLoss, overBudget], 0.01), sameButLowerLoss);
  assert.equal(K.chooseCheckpoint(start, [overBudget], 0.01), null);
  assert.equal(K.chooseCheckpoint(start, [{ ...start, valid_acc: 0.98 }], 0.01), null); // no better on the class
  assert.equal(K.chooseCheckpoint(start, [], 0.01), null);
  assert.equal(K.chooseCheckpoint(start, [{ held_acc: 0.65, held_loss: 2, valid_acc: 0.96 }], 0.01).held_acc, 0.65); // exactly a point
});

test("summary says the figures as the server's class_model_summary does, and which MNIST digits", () => {
  const said = K.summary(SETUP.titles, SUMMARY_NOTES, { validCount: 2000, validEvery: 10 });
  assert.equal(said.replaceAll(" (every 10th validation digit, 2,000)", ""), PY.summary);
  assert.match(said, /^Linear: 50\.0% → 75\.0% on the class's 5 held-out drawings, MNIST 97\.0% → 96\.5% \(every 10th/);
});

test("the upload the page builds from the shipped weights passes the route's own checks", () => {
  const checked = PY.upload;
  assert.deepEqual(checked.models, [...SETUP.names].sort());
  assert.equal(checked.notes.linear.held_after, "0.750000");
  assert.equal(checked.notes.cnn.valid_count, "2000");
});

test("refusalSentence prefers the server's sentence; teacherToken reads the seat echo", () => {
  assert.equal(K.refusalSentence(429, { error: "Too many requests for this class: try again in 12 seconds." }),
    "Too many requests for this class: try again in 12 seconds.");
  assert.match(K.refusalSentence(403, null), /ended/);
  assert.match(K.refusalSentence(502, "<html>"), /502/);
  assert.equal(K.teacherToken(JSON.stringify({ code: null, student: null, teacher: "tok", wall: null })), "tok");
  assert.equal(K.teacherToken(JSON.stringify({ code: "ACD479", student: "s", teacher: null, wall: null })), null);
  assert.equal(K.teacherToken("not json"), null);
  assert.equal(K.teacherToken(""), null);
});

test("the curves draw a held-out line beside MNIST's when the run measured one", () => {
  const c = C.createCurves();
  C.addEvent(c, { kind: "epoch", model: "cnn", epoch: 0, valid_loss: 0.3, valid_acc: 0.9, own_held_acc: 0.5 });
  C.addEvent(c, { kind: "epoch", model: "linear", epoch: 0, valid_loss: 0.3, valid_acc: 0.9, own_held_acc: null });
  assert.deepEqual(c.acc["cnn held-out"], [[1, 50]]);
  assert.equal(c.acc["linear held-out"], undefined);
  assert.match(C.chartSvg(c.acc, { title: "t", epochs: 3 }), /#fdba74/);
});
