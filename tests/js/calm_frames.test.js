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
  const frames = new Map(), timeouts = new Map(), cancelled = [];
  let ids = 0, looked = 0;
  const tracker = { querySelector: (s) => (shown.error && s === ".error" ? {} : null) };
  const win = {
    document: { querySelectorAll: (s) => (looked++, shown.value && s.includes("status-tracker") ? [tracker] : []) },
    requestAnimationFrame(cb) { frames.set(++ids, cb); return ids; },
    cancelAnimationFrame(id) { cancelled.push(id); frames.delete(id); },
    setTimeout(cb, ms) { const id = ++ids; timeouts.set(id, { cb, ms }); return id; },
    clearTimeout(id) { timeouts.delete(id); },
  };
  const fire = (map, ...args) => { const all = [...map.values()]; map.clear(); for (const f of all) (f.cb || f)(...args); };
  return { win, frames, timeouts, cancelled, looked: () => looked, fire };
}

test("installed: the tracker's frames wait a second, then are the browser's to give", () => {
  const shown = { value: false, error: false };
  const { win, frames, timeouts, cancelled, looked, fire } = fakeWindow(shown);
  let stack = CHROME;
  assert.equal(calm.install(win, () => stack), true);
  assert.equal(calm.install(win, () => stack), false); // once
  let ran = null;
  const id = win.requestAnimationFrame((t) => { ran = t; });
  assert.ok(id < 0);
  assert.equal(frames.size, 0); // nothing asked of the browser yet
  assert.deepEqual([...timeouts.values()].map((t) => t.ms), [calm.WAIT_MS]);
  fire(timeouts);
  assert.equal(frames.size, 1); // after the wait, a frame of the browser's (none in a background tab)
  assert.equal(ran, null);
  fire(frames, 1234);
  assert.equal(ran, 1234);
  // A waiting frame can be cancelled, as a browser's can: while it waits, and once asked of the browser.
  const waitingId = win.requestAnimationFrame(() => assert.fail("cancelled while waiting"));
  win.cancelAnimationFrame(waitingId);
  assert.equal(timeouts.size, 0);
  const askedId = win.requestAnimationFrame(() => assert.fail("cancelled once asked"));
  fire(timeouts);
  win.cancelAnimationFrame(askedId);
  assert.equal(frames.size, 0);
  win.cancelAnimationFrame(7);
  assert.equal(cancelled.at(-1), 7); // a browser's own id goes to the browser
});

test("a shown tracker's frames come at once; one showing an error counts no time; others are not looked at", () => {
  const shown = { value: true, error: false };
  const { win, frames, timeouts, looked } = fakeWindow(shown);
  let stack = FIREFOX;
  calm.install(win, () => stack);
  assert.ok(win.requestAnimationFrame(() => {}) > 0);
  assert.equal(frames.size, 1);
  shown.error = true;
  assert.ok(win.requestAnimationFrame(() => {}) < 0);
  assert.equal(timeouts.size, 1);
  stack = SVELTE;
  const before = looked();
  assert.ok(win.requestAnimationFrame(() => {}) > 0);
  assert.equal(looked(), before); // another caller's frame: the page is not even looked at
});
