// The student's class in the browser's storage (mnist_demo/page/class_store.js): the seat, the
// outbox that keeps every kept drawing until the class acknowledged it, and the receipts that let a
// deleted digit be taken back from the class it went to.
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
    get length() { return map.size; },
    key: (i) => [...map.keys()][i] ?? null,
  };
}

const seat = { code: "ACD479", student: "s1", state: "joined" };
const other = { code: "FHJ346", student: "s7", state: "joined" };
const keepOf = (id, where = seat) => ({ kind: "keep", id, label: 3, pixels: "AAAA", said: { linear: 3, cnn: 3 },
  code: where.code, student: where.student });
const withdrawals = (box) => box.entries().filter((e) => e.kind === "withdraw").map((e) => [e.code, e.student, e.ids]);

test("a kept drawing stays in the outbox, across a new page (a reload), until the class acknowledges it", () => {
  const storage = memoryStorage();
  classes.createOutbox(storage).add(keepOf(11));
  classes.createOutbox(storage).add(keepOf(12));
  const reloaded = classes.createOutbox(storage);
  assert.deepEqual(reloaded.entries().map((e) => e.id), [11, 12]);
  assert.equal(reloaded.pending(seat), 2);
  reloaded.sent(keepOf(11));
  assert.deepEqual(classes.createOutbox(storage).entries().map((e) => e.id), [12]);
  classes.createOutbox(storage).sent(keepOf(12));
  assert.equal(storage.map.has(classes.OUTBOX_KEY), false); // nothing left behind but the receipts
  assert.deepEqual(JSON.parse(storage.map.get(classes.RECEIPTS_KEY)), { "ACD479 s1": [11, 12] });
});

test("two tabs sending the same drawing count it once: the second answer finds it gone", () => {
  const storage = memoryStorage();
  const [tab1, tab2] = [classes.createOutbox(storage), classes.createOutbox(storage)]; // one browser's storage
  tab1.add(keepOf(5));
  const [first, second] = [tab1.entries()[0], tab2.entries()[0]]; // both send it
  assert.equal(tab2.sent(second), true);
  assert.equal(tab1.sent(first), false);
  assert.deepEqual(JSON.parse(storage.map.get(classes.RECEIPTS_KEY)), { "ACD479 s1": [5] }); // one receipt
  tab1.add({ kind: "withdraw", ids: [5], code: seat.code, student: seat.student });
  const withdrawal = tab1.entries()[0];
  assert.equal(tab1.sent(withdrawal), true);
  assert.equal(tab2.sent(withdrawal), false); // a withdrawal is answered once too
});

// Two tabs of one browser, each reading localStorage from its own copy, which hears of the other
// tab's writes only when `hear` is called (in a browser: a moment later, at a turn of its event loop).
function tabsOfOneBrowser() {
  const disk = new Map();
  const tab = () => {
    const copy = new Map(disk);
    return {
      hear: () => { copy.clear(); disk.forEach((v, k) => copy.set(k, v)); },
      getItem: (k) => (copy.has(k) ? copy.get(k) : null),
      setItem: (k, v) => { copy.set(k, String(v)); disk.set(k, String(v)); },
      removeItem: (k) => { copy.delete(k); disk.delete(k); },
      get length() { return copy.size; },
      key: (i) => [...copy.keys()][i] ?? null,
    };
  };
  return [tab(), tab()];
}

test("a drawing kept in one tab while another tab's send is answered stays in the outbox", () => {
  const [drawing, sending] = tabsOfOneBrowser();
  classes.createOutbox(drawing).add(keepOf(1));
  sending.hear();
  const sender = classes.createOutbox(sending), first = sender.entries()[0];
  classes.createOutbox(drawing).add(keepOf(2)); // kept while the sending tab waits for its answer...
  assert.equal(sender.sent(first), true); // ...which it writes before it has heard of drawing 2
  drawing.hear();
  sending.hear();
  for (const tab of [drawing, sending]) assert.deepEqual(classes.createOutbox(tab).entries().map((e) => e.id), [2]);
});

test("an outbox an earlier version kept as one list is carried over, in its order, and nothing is lost", () => {
  const storage = memoryStorage();
  const withdrawal = { kind: "withdraw", ids: [9], code: seat.code, student: seat.student };
  storage.setItem(classes.OUTBOX_KEY, JSON.stringify([keepOf(7), withdrawal, keepOf(3)]));
  const box = classes.createOutbox(storage);
  box.add(keepOf(1));
  assert.deepEqual(box.entries().map((e) => e.kind + (e.id ?? e.ids)), ["keep7", "withdraw9", "keep3", "keep1"]);
  assert.equal(storage.map.has(classes.OUTBOX_KEY), false);
  assert.equal(classes.createOutbox(storage).pending(seat), 3); // read the same by the next page
});

test("the same drawing is queued once (a double tap), and bad entries never enter", () => {
  const box = classes.createOutbox(memoryStorage());
  box.add(keepOf(5));
  box.add(keepOf(5));
  assert.equal(box.add({ ...keepOf(6), id: 1.5 }), false);
  assert.equal(box.add({ ...keepOf(7), student: undefined }), false);
  assert.equal(box.pending(seat), 1);
});

test("a refused write (storage full) keeps the outbox in memory: nothing kept is lost while the tab is open", () => {
  const storage = memoryStorage();
  storage.setItem = () => { const e = new Error("full"); e.name = "QuotaExceededError"; throw e; };
  const box = classes.createOutbox(storage);
  box.add(keepOf(1));
  box.add(keepOf(2));
  assert.deepEqual(box.entries().map((e) => e.id), [1, 2]);
  assert.equal(classes.sharedOutbox(storage), classes.sharedOutbox(memoryStorage())); // one per page
});

test("a deleted digit is taken back from the class it went to, by the seat that sent it", () => {
  const box = classes.createOutbox(memoryStorage());
  box.add(keepOf(1));
  box.sent(keepOf(1)); // acknowledged by class ACD479
  box.add(keepOf(2, other));
  box.sent(keepOf(2, other)); // then this browser joined another class
  box.withdraw([1, 2, 3]); // 3 never went to a class
  assert.deepEqual(withdrawals(box), [["ACD479", "s1", [1]], ["FHJ346", "s7", [2]]]);
  box.withdraw([1]); // its receipt is used up
  assert.equal(withdrawals(box).length, 2);
});

test("a digit deleted while its send is on the way is withdrawn after it, in case it arrives", () => {
  const box = classes.createOutbox(memoryStorage());
  box.add(keepOf(1));
  box.add(keepOf(2));
  const inFlight = box.entries()[0];
  box.withdraw([1]);
  box.add(keepOf(3));
  box.sent(inFlight); // "stored": it was on its way
  assert.deepEqual(box.entries().map((e) => e.kind + (e.id ?? e.ids)), ["keep2", "withdraw1", "keep3"]);
  assert.equal(box.pending(seat), 2);
});

test("an answered entry leaves the outbox even when others were added meanwhile", () => {
  const box = classes.createOutbox(memoryStorage());
  box.add(keepOf(1));
  box.add(keepOf(2));
  box.done(box.entries()[1]);
  assert.deepEqual(box.entries().map((e) => e.id), [1]);
});

test("dropping one seat's entries leaves the same class joined again, and another class, alone", () => {
  const box = classes.createOutbox(memoryStorage());
  const again = { ...seat, student: "s2" }; // left, then joined the same class again
  box.add(keepOf(1));
  box.add(keepOf(2, again));
  box.add(keepOf(3, other));
  assert.equal(box.drop("ACD479", "s1"), 1);
  assert.deepEqual(box.entries().map((e) => e.id), [2, 3]);
  assert.equal(box.drop("ACD479"), 1); // the class ended: every seat of it
  assert.deepEqual(box.entries().map((e) => e.code), ["FHJ346"]);
});

test("the outbox and the receipts are bounded", () => {
  const storage = memoryStorage();
  const box = classes.createOutbox(storage);
  for (let i = 0; i < classes.MAX_OUTBOX; i++) assert.equal(box.add(keepOf(i)), true);
  assert.equal(box.add(keepOf(classes.MAX_OUTBOX)), false);
  box.withdraw([0]); // a withdrawal still goes in when the outbox is full
  assert.equal(withdrawals(box).length, 1);
  const receipts = classes.createOutbox(memoryStorage());
  for (let i = 0; i < classes.MAX_RECEIPTS + 10; i++) { receipts.add(keepOf(i)); receipts.sent(keepOf(i)); }
  receipts.withdraw([0, classes.MAX_RECEIPTS + 9]); // the oldest receipt went first
  assert.deepEqual(withdrawals(receipts), [["ACD479", "s1", [classes.MAX_RECEIPTS + 9]]]);
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

test("the seat is changed only for its own class and student; a refused storage keeps it in memory", () => {
  const storage = memoryStorage();
  classes.saveSeat(storage, { ...seat, sent: 1 });
  classes.updateSeat(storage, other, { sent: 9 });
  classes.updateSeat(storage, { ...seat, student: "s0" }, { sent: 9 }); // an answer for an earlier seat
  assert.equal(classes.readSeat(storage).sent, 1);
  classes.updateSeat(storage, seat, { sent: 2 });
  assert.equal(classes.readSeat(storage).sent, 2);
  storage.setItem = () => { throw new Error("denied"); };
  storage.removeItem = storage.setItem;
  classes.saveSeat(storage, other);
  assert.equal(classes.readSeat(storage).code, "FHJ346");
  classes.saveSeat(storage, null);
  assert.equal(classes.readSeat(storage), null);
});
