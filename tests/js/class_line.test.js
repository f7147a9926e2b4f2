// The student's class line (mnist_demo/page/class_line.js): what it says in each state, and what an
// answer from the server does to a waiting drawing.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const line = require(path.join(__dirname, "..", "..", "mnist_demo", "page", "class_line.js"));

const joined = { code: "ACD479", student: "s1", state: "joined", sent: 0, model: 0 };

test("no class: no line", () => {
  assert.equal(line.lineView({ seat: null }).visible, false);
  assert.equal(line.lineView({ seat: { teacher: "t" } }).visible, false);
});

test("joined, then sent, then waiting: the line counts only what the class acknowledged", () => {
  let v = line.lineView({ seat: joined });
  assert.equal(v.state, "joined");
  assert.match(v.text, /You are in class ACD 479/);
  v = line.lineView({ seat: { ...joined, sent: 3 } });
  assert.match(v.text, /3 sent to the class/);
  v = line.lineView({ seat: { ...joined, sent: 3 }, pending: 2, trouble: "offline" });
  assert.equal(v.state, "waiting");
  assert.equal(v.pending, 2);
  assert.match(v.text, /waiting to send \(2\): no connection/);
  assert.doesNotMatch(v.text, /sent to the class/);
  // Another tab kept while the browser is offline: this one has not tried, and still says why.
  assert.match(line.lineView({ seat: joined, pending: 1, online: false }).text, /waiting to send \(1\): no connection/);
  assert.match(line.lineView({ seat: joined, pending: 1 }).text, /waiting to send \(1\): sending…/);
  // The last try found no server; the browser has since said it is offline: that is the reason now.
  assert.match(line.lineView({ seat: joined, pending: 1, trouble: "server", online: false }).text, /no connection/);
});

test("refused, removed and ended each say so, send nothing, and can be put away", () => {
  for (const [state, words] of [["locked", /not taking new students/], ["removed", /took you out of class ACD 479/],
    ["ended", /Class ACD 479 has ended/], ["full", /Class ACD 479 is full/]]) {
    const v = line.lineView({ seat: { code: "ACD479", student: null, state, model: 1 }, pending: 4 });
    assert.equal(v.state, state === "full" ? "locked" : state); // the page contract's five states
    assert.equal(v.pending, 0);
    assert.match(v.text, words);
    assert.deepEqual(v.action, { kind: "forget", label: "OK" });
  }
});

test("a class model offers itself in one tap, and the way back once it answers", () => {
  assert.deepEqual(line.lineView({ seat: { ...joined, model: 1 } }).action, { kind: "use", label: "Use our class’s model" });
  const using = line.lineView({ seat: { ...joined, model: 1 }, using: true });
  assert.equal(using.action.kind, "shipped");
  assert.match(using.text, /Answering with our class’s model/);
});

test("a reply is acknowledged, retried or final, as the server says", () => {
  assert.equal(line.verdict({ result: "stored" }).action, "done");
  assert.equal(line.verdict({ result: "stored before" }).action, "done");
  assert.deepEqual(line.verdict({ result: "retry", message: "Slow down" }), { action: "retry", trouble: "slow", note: "Slow down" });
  assert.deepEqual(line.verdict({ result: "refused", state: "removed", message: "m" }), { action: "final", state: "removed", note: "m" });
  assert.deepEqual(line.verdict(null, false), { action: "retry", trouble: "offline" });
  assert.deepEqual(line.verdict(undefined, true), { action: "retry", trouble: "server" });
  assert.equal(line.verdict({ result: "something new" }).action, "retry");
  // Gradio's own error object while the phone is offline: it waits for the connection, and says so.
  assert.deepEqual(line.verdict({ error: "Connection errored out." }, false), { action: "retry", trouble: "offline" });
});

test("retries back off, to at most 15 s", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 10].map(line.backoff), [1000, 2000, 4000, 8000, 15000, 15000]);
});
