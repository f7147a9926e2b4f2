// The student's class in the browser's storage (mnist_demo/page/class_store.js): the seat and the
// outbox that keeps every kept drawing until the class acknowledged it.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const classes = require(path.join(__dirname, "..", "..", "mnist_demo", "page", "class_store.js"));

function memoryStorage() {
  const map = new Map();
  return {
    map,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, String(v)),
    removeItem: (k) => map.delete(k),
  };
}

const seat = { code: "ACD479", student: "s1", state: "joined" };
const keepOf = (id, label = 3) => ({ kind: "keep", id, label, pixels: "AAAA", said: { linear: 3, cnn: 3 }, ...seat });

test("a kept drawing stays in the outbox, across a new page (a reload), until it is answered", () => {
  const storage = memoryStorage();
  classes.createOutbox(storage).add(keepOf(11));
  classes.createOutbox(storage).add(keepOf(12));
  const reloaded = classes.createOutbox(storage);
  assert.deepEqual(reloaded.entries().map((e) => e.id), [11, 12]);
  assert.equal(reloaded.pending("ACD479"), 2);
  reloaded.done(keepOf(11));
  assert.deepEqual(classes.createOutbox(storage).entries().map((e) => e.id), [12]);
  classes.createOutbox(storage).done(keepOf(12));
  assert.equal(storage.map.has(classes.OUTBOX_KEY), false); // nothing left behind
});

test("the same drawing is queued once (a double tap), and bad entries never enter", () => {
  const box = classes.createOutbox(memoryStorage());
  box.add(keepOf(5));
  box.add(keepOf(5));
  assert.equal(box.add({ kind: "keep", id: 1.5, label: 3, pixels: "A", ...seat }), false);
  assert.equal(box.add({ kind: "keep", id: 6, label: 3, pixels: "A", code: "ACD479" }), false); // no student
  assert.equal(box.pending("ACD479"), 1);
});

test("a refused write (storage full) keeps the outbox in memory: nothing kept is lost while the tab is open", () => {
  const storage = memoryStorage();
  storage.setItem = () => { const e = new Error("full"); e.name = "QuotaExceededError"; throw e; };
  const box = classes.createOutbox(storage);
  box.add(keepOf(1));
  box.add(keepOf(2));
  assert.deepEqual(box.entries().map((e) => e.id), [1, 2]);
});

test("withdrawing a drawing still waiting drops it; one already sent is withdrawn by the seat", () => {
  const box = classes.createOutbox(memoryStorage());
  box.add(keepOf(1));
  box.withdraw([1, 2], seat);
  const entries = box.entries();
  assert.equal(box.pending("ACD479"), 0);
  assert.deepEqual(entries, [{ kind: "withdraw", ids: [2], code: "ACD479", student: "s1" }]);
  box.withdraw([3], null); // in no class: nothing to withdraw from
  assert.equal(box.entries().length, 1);
});

test("an ended class's entries are dropped, another class's stay", () => {
  const box = classes.createOutbox(memoryStorage());
  box.add(keepOf(1));
  box.add({ ...keepOf(2), code: "FHJ346" });
  box.dropClass("ACD479");
  assert.deepEqual(box.entries().map((e) => e.code), ["FHJ346"]);
});

test("the outbox is bounded", () => {
  const box = classes.createOutbox(memoryStorage());
  for (let i = 0; i < classes.MAX_OUTBOX; i++) assert.equal(box.add(keepOf(i)), true);
  assert.equal(box.add(keepOf(classes.MAX_OUTBOX)), false);
});

test("the server's seat keeps what only this browser knows, for the same class and student", () => {
  const old = { ...seat, chosen: ["cnn"], sent: 4 };
  assert.deepEqual(classes.mergeSeat(old, { ...seat, model: 2 }), { ...seat, model: 2, chosen: ["cnn"], sent: 4 });
  assert.deepEqual(classes.mergeSeat(old, { code: "ACD479", student: "s2", state: "joined" }).sent, 0);
  assert.equal(classes.mergeSeat(old, { code: null, student: null }), null);
  assert.deepEqual(classes.mergeSeat(null, { teacher: "t" }), { teacher: "t", chosen: [], sent: 0 });
});

test("a seat is read back whole, or not at all", () => {
  const storage = memoryStorage();
  assert.equal(classes.readSeat(storage), null);
  storage.setItem(classes.SEAT_KEY, "{not json");
  assert.equal(classes.readSeat(storage), null);
  storage.setItem(classes.SEAT_KEY, JSON.stringify(seat));
  assert.deepEqual(classes.readSeat(storage), seat);
  assert.deepEqual(classes.studentOf(seat), { code: "ACD479", student: "s1" });
  assert.equal(classes.studentOf({ ...seat, state: "removed" }), null);
});

test("an answered entry leaves the outbox even when others were added or withdrawn meanwhile", () => {
  const box = classes.createOutbox(memoryStorage());
  box.add(keepOf(1));
  box.add(keepOf(2));
  const first = box.entries()[0];
  box.withdraw([1], seat); // deleted while its send was on the way
  box.add(keepOf(3));
  box.done(first);
  assert.deepEqual(box.entries().map((e) => e.id), [2, 3]); // not the next one in its place
});

test("the seat is changed only for its own class; a refused storage keeps it in memory", () => {
  const storage = memoryStorage();
  classes.saveSeat(storage, { ...seat, sent: 1 });
  classes.updateSeat(storage, "FHJ346", { sent: 9 });
  assert.equal(classes.readSeat(storage).sent, 1);
  classes.updateSeat(storage, "ACD479", { sent: 2 });
  assert.equal(classes.readSeat(storage).sent, 2);
  storage.setItem = () => { throw new Error("denied"); };
  storage.removeItem = storage.setItem;
  classes.saveSeat(storage, { code: "FHJ346", student: "s9", state: "joined" });
  assert.equal(classes.readSeat(storage).code, "FHJ346");
  classes.saveSeat(storage, null);
  assert.equal(classes.readSeat(storage), null);
});
