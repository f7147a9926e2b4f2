// Unit tests of mnist_demo/page/strokes.js (node --test tests/js/): the pad's stroke list,
// pointer scaling and painting, without a browser.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const S = require("../../mnist_demo/page/strokes.js");

test("one pen at a time: a second pointer neither starts nor extends a stroke", () => {
  const strokes = S.createStrokes();
  assert.equal(strokes.start(1, [0, 0]), true);
  assert.equal(strokes.drawing, true);
  assert.equal(strokes.start(2, [5, 5]), false);
  assert.equal(strokes.extend(2, [[6, 6]]), false);
  assert.equal(strokes.extend(1, [[1, 1], [2, 2]]), true);
  assert.equal(strokes.end(2), false);
  assert.equal(strokes.end(1), true);
  assert.equal(strokes.drawing, false);
  assert.deepEqual(strokes.list, [[[0, 0], [1, 1], [2, 2]]]);
  assert.equal(strokes.extend(1, [[3, 3]]), false, "a lifted pen adds nothing");
});

test("undo takes back the last stroke, clear takes all; neither while a pen is down", () => {
  const strokes = S.createStrokes();
  assert.equal(strokes.undo(), false, "nothing to undo");
  for (const id of [1, 2, 3]) { strokes.start(id, [id, id]); strokes.end(id); }
  assert.equal(strokes.undo(), true);
  assert.deepEqual(strokes.list, [[[1, 1]], [[2, 2]]]);
  strokes.start(4, [4, 4]);
  assert.equal(strokes.undo(), false);
  assert.equal(strokes.clear(), false);
  assert.equal(strokes.list.length, 3);
  strokes.end(4);
  assert.equal(strokes.clear(), true);
  assert.deepEqual(strokes.list, []);
  assert.equal(strokes.start(5, [0, 0]), true, "the pen is ready after Clear");
});

test("pointer positions scale to the ink canvas whatever the pad's size on screen", () => {
  const box = { left: 100, top: 50, width: 224, height: 224 };
  assert.deepEqual(S.toInk(100, 50, box, 448), [0, 0]);
  assert.deepEqual(S.toInk(324, 274, box, 448), [448, 448]);
  assert.deepEqual(S.toInk(212, 106, box, 448), [224, 112]);
});

/** A 2D context that records what is drawn on it. */
function fakeContext(width = 10, height = 10) {
  const calls = [];
  const record = (name) => (...args) => calls.push([name, ...args]);
  return {
    calls, canvas: { width, height },
    setTransform: record("setTransform"), clearRect: record("clearRect"), beginPath: record("beginPath"),
    moveTo: record("moveTo"), lineTo: record("lineTo"), stroke: record("stroke"),
  };
}

test("painting clears, scales, sets the pen and draws each stroke; a tap is a dot", () => {
  const context = fakeContext(896, 896);
  S.paintStrokes(context, [[[1, 2], [3, 4]], [[5, 6]]], { scale: 2, colour: "#123", pen: 26 });
  assert.deepEqual(context.calls, [
    ["setTransform", 1, 0, 0, 1, 0, 0], ["clearRect", 0, 0, 896, 896], ["setTransform", 2, 0, 0, 2, 0, 0],
    ["beginPath"], ["moveTo", 1, 2], ["lineTo", 3, 4], ["stroke"],
    ["beginPath"], ["moveTo", 5, 6], ["lineTo", 5.01, 6], ["stroke"],
  ]);
  assert.equal(context.lineWidth, 26);
  assert.equal(context.strokeStyle, "#123");
  assert.equal(context.lineCap, "round");
  assert.equal(context.lineJoin, "round");
});
