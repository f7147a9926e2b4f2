// Unit tests of mnist_demo/page/store.js (node --test tests/js/): the visitor's digits and weights
// in the browser's storage, with a fake storage that can be full or blocked.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const S = require("../../mnist_demo/page/store.js");

/** localStorage's interface over a Map; `full` refuses writes as a full quota does, `blocked`
 * refuses everything as a browser that denies the page storage does. */
function fakeStorage({ full = false, blocked = false } = {}) {
  const data = new Map();
  const deny = (name) => { const e = new Error(name); e.name = name; throw e; };
  return {
    data, full,
    getItem(k) { if (blocked) deny("SecurityError"); return data.has(k) ? data.get(k) : null; },
    setItem(k, v) { if (blocked) deny("SecurityError"); if (this.full) deny("QuotaExceededError"); data.set(k, String(v)); },
    removeItem(k) { if (blocked) deny("SecurityError"); data.delete(k); },
  };
}

const digit = (id, label = 3) => ({ id, label, pixels: S.bytesToBase64(new Uint8Array(784).fill(id % 256)) });

test("kept digits and weights survive a new page (a reload) on the same storage", () => {
  const storage = fakeStorage();
  const first = S.createStore(storage);
  assert.deepEqual(first.add([digit(1), digit(2, 7)]), { ok: true });
  assert.deepEqual(first.setWeights({ linear: "AAAA" }), { ok: true });
  const again = S.createStore(storage);
  assert.deepEqual(again.digits.map((d) => [d.id, d.label]), [[1, 3], [2, 7]]);
  assert.deepEqual(again.weights, { linear: "AAAA" });
  again.remove(1);
  assert.deepEqual(S.createStore(storage).digits.map((d) => d.id), [2]);
  again.clearDigits();
  assert.equal(S.createStore(storage).digits.length, 0);
  assert.deepEqual(S.createStore(storage).weights, { linear: "AAAA" }, "Delete all leaves the weights");
});

test("a digit kept twice (a double tap, a retry) is stored once; bad entries are dropped", () => {
  const store = S.createStore(fakeStorage());
  store.add([digit(5)]);
  store.add([digit(5), { id: -1, label: 3, pixels: "" }, { id: 6, label: 10, pixels: "" }, { id: 1.5, label: 1, pixels: "" }]);
  assert.deepEqual(store.digits.map((d) => d.id), [5]);
});

test("a full storage refuses with a sentence and keeps what it had", () => {
  const storage = fakeStorage();
  S.createStore(storage).add([digit(1)]);
  storage.full = true;
  const store = S.createStore(storage);
  const answer = store.add([digit(2)]);
  assert.equal(answer.ok, false);
  assert.match(answer.problem, /full/);
  assert.deepEqual(store.digits.map((d) => d.id), [1, 2], "the tab still has it");
  assert.deepEqual(S.createStore(storage).digits.map((d) => d.id), [1], "the stored record is unchanged");
});

test("blocked storage (an embedded page, private browsing) says so and still works in memory", () => {
  const store = S.createStore(fakeStorage({ blocked: true }));
  assert.equal(store.available(), false);
  assert.match(store.problem, /does not let the page store/);
  const answer = store.add([digit(1)]);
  assert.equal(answer.ok, false);
  assert.equal(store.digits.length, 1);
  assert.equal(S.createStore(fakeStorage()).available(), true);
});

test("a damaged record is reported and replaced, never thrown", () => {
  const storage = fakeStorage();
  storage.setItem(S.KEY, "{not json");
  const store = S.createStore(storage);
  assert.match(store.problem, /damaged/);
  assert.equal(store.digits.length, 0);
  storage.setItem(S.KEY, JSON.stringify({ version: 99, digits: [digit(1)], weights: {} }));
  assert.equal(S.createStore(storage).digits.length, 0, "another version's record is not read as this one");
});

test("bytes round half to even like numpy's rint, and clip to 0..255", () => {
  const out = S.digitBytes(Float32Array.from([0, 0.5 / 256, 1.5 / 256, 2.5 / 256, 1, 255 / 256, 2]), 256);
  assert.deepEqual(Array.from(out), [0, 0, 2, 2, 255, 255, 255]);
});

test("ids are safe integers, different each time", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => S.newId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.ok(Number.isSafeInteger(id) && id >= 0);
});

test("two views of one storage (the pad and the gallery, or two tabs) never undo each other", () => {
  const storage = fakeStorage();
  const pad = S.createStore(storage), gallery = S.createStore(storage);
  pad.add([digit(1)]);
  gallery.add([digit(2)]);
  pad.add([digit(3)]);
  gallery.remove(1);
  assert.deepEqual(S.createStore(storage).digits.map((d) => d.id), [2, 3]);
});

test("deleted ids are remembered, the newest 500, so a lost deletion is sent again", () => {
  const storage = fakeStorage();
  const kept = S.createStore(storage);
  kept.add([digit(1), digit(2), digit(3)]);
  kept.remove(2);
  assert.deepEqual(S.createStore(storage).gone, [2], "across a reload");
  kept.clearDigits();
  assert.deepEqual(kept.gone, [2, 1, 3]);
  kept.add(Array.from({ length: 600 }, (_, i) => digit(100 + i)));
  kept.clearDigits();
  assert.equal(kept.gone.length, 500);
  assert.equal(kept.gone[499], 699);
  storage.setItem(S.KEY, JSON.stringify({ version: S.VERSION, digits: [digit(9)], weights: {} }));
  assert.deepEqual(S.createStore(storage).gone, [], "a record from before: none");
});
