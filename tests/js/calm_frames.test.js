// An idle page asks for no animation frames (mnist_demo/page/calm_frames.js): the frames Gradio's
// status tracker asks for wait a second while no tracker is shown; nothing else changes.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const calm = require(path.join(__dirname, "..", "..", "mnist_demo", "page", "calm_frames.js"));

// Stacks as browsers write them when Gradio's tracker loop (its function ze) asks for a frame.
const CHROME = `Error
    at Window.requestAnimationFrame (http://127.0.0.1:7860/:3:1021)
    at ze (http://127.0.0.1:7860/assets/statustracker-DQF-KcRT.js:1:7289)
    at http://127.0.0.1:7860/assets/statustracker-DQF-KcRT.js:1:7336`;
const FIREFOX = `requestAnimationFrame@http://127.0.0.1:7860/:3:1021
ze@http://127.0.0.1:7860/assets/statustracker-DQF-KcRT.js:1:7289
@http://127.0.0.1:7860/assets/statustracker-DQF-KcRT.js:1:7336`;
// Svelte's own frame loop, first started by something the tracker did: not the tracker's to wait.
const SVELTE = `Error
    at Window.requestAnimationFrame (http://127.0.0.1:7860/:3:1021)
    at Ae (http://127.0.0.1:7860/assets/index-DphvyggB.js:1:5120)
    at W (http://127.0.0.1:7860/assets/statustracker-DQF-KcRT.js:1:1800)`;

test("the caller is the frame below requestAnimationFrame's own, in Chrome's and Firefox's stacks", () => {
  assert.match(calm.caller(CHROME), /^\s*at ze \(/);
  assert.match(calm.caller(FIREFOX), /^ze@/);
  assert.equal(calm.caller(""), "");
});

test("the tracker's own frames are told from every other caller's", () => {
  assert.equal(calm.fromTracker(CHROME), true);
  assert.equal(calm.fromTracker(FIREFOX), true);
  assert.equal(calm.fromTracker(SVELTE), false);
  assert.equal(calm.fromTracker(undefined), false);
});

function fakeWindow(shown) {
  const frames = [], timeouts = new Map(), cancelled = [];
  let ids = 0, looked = 0;
  const win = {
    document: { querySelector: (s) => (looked++, shown.value && s.includes("status-tracker") ? {} : null) },
    performance: { now: () => 1234 },
    requestAnimationFrame(cb) { frames.push(cb); return ++ids; },
    cancelAnimationFrame(id) { cancelled.push(id); },
    setTimeout(cb, ms) { const id = ++ids; timeouts.set(id, { cb, ms }); return id; },
    clearTimeout(id) { timeouts.delete(id); },
  };
  return { win, frames, timeouts, cancelled, looked: () => looked };
}

test("installed: the tracker's frames wait a second while none is shown, and run at once when one is", () => {
  const shown = { value: false };
  const { win, frames, timeouts, cancelled, looked } = fakeWindow(shown);
  let stack = CHROME;
  assert.equal(calm.install(win, () => stack), true);
  assert.equal(calm.install(win, () => stack), false); // once
  let ran = null;
  const id = win.requestAnimationFrame((t) => { ran = t; });
  assert.ok(id < 0);
  assert.equal(frames.length, 0);
  assert.deepEqual([...timeouts.values()].map((t) => t.ms), [calm.WAIT_MS]);
  [...timeouts.values()][0].cb();
  assert.equal(ran, 1234);
  // A waiting frame can be cancelled, as a browser's can.
  const again = win.requestAnimationFrame(() => { throw new Error("cancelled, should not run"); });
  win.cancelAnimationFrame(again);
  assert.equal(timeouts.size, 1); // only the first (already run) entry's record; the cancelled one is gone
  win.cancelAnimationFrame(7);
  assert.deepEqual(cancelled, [7]); // a browser's own id goes to the browser
  shown.value = true;
  assert.ok(win.requestAnimationFrame(() => {}) > 0);
  assert.equal(frames.length, 1);
  shown.value = false;
  stack = SVELTE;
  const lookedBefore = looked();
  assert.ok(win.requestAnimationFrame(() => {}) > 0);
  assert.equal(frames.length, 2);
  assert.equal(looked(), lookedBefore); // another caller's frame: the page is not even looked at
});
