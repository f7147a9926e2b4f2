/* An idle page asks for no animation frames.
 *
 * Gradio's status tracker (6.31) counts an event's elapsed time on requestAnimationFrame, and the
 * tracker shown while the app loads is taken away still counting: its loop asks for a frame 60
 * times a second on every open page, for as long as the page stays open (a one-textbox Gradio app
 * does it too). Idle, that was 4.5 % of a core per page in Chromium here: a student's phone's
 * battery, and the laptop that serves the class. While no tracker is shown, a frame the tracker's
 * own code asks for waits a second instead; a shown tracker counts as before, and every other
 * caller gets its frames untouched.
 *
 * Gradio keeps the reference to requestAnimationFrame it finds when its code loads, so this must
 * run first: page_head.py puts it in the page's <head>, before Gradio's scripts.
 * Pure parts: tests/js/calm_frames.test.js.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else api.install(root);
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const WAIT_MS = 1000;
  const TRACKER_CODE = /\/statustracker-[\w-]*\.js/; // Gradio's chunk: assets/statustracker-<hash>.js
  const SHOWN = '[data-testid="status-tracker"]:not(.hide)'; // Gradio hides a tracker with .hide

  /** The frame that called the function that made `stack` (Chrome's "    at f (url)" lines, or
   * Firefox's and Safari's "f@url" lines): the caller of requestAnimationFrame. */
  function caller(stack) {
    const frames = String(stack || "").split("\n").filter((l) => l.trim() && l.trim() !== "Error");
    return frames[1] || "";
  }

  /** Whether the tracker's own code asked for the frame that made `stack`. */
  function fromTracker(stack) {
    return TRACKER_CODE.test(caller(stack));
  }

  /** Whether the page shows a tracker now (its counter must run). */
  function shown(win) {
    return !!(win.document && win.document.querySelector(SHOWN));
  }

  /** Replace `win.requestAnimationFrame` (and its cancel) with the calm ones, once. `stackOf`
   * stands in for the caller's stack in tests. */
  function install(win, stackOf = null) {
    const ask = win.requestAnimationFrame, cancel = win.cancelAnimationFrame;
    if (typeof ask !== "function" || ask.calm) return false;
    const waiting = new Map(); // our ids (negative, so never a browser's) -> the timeout's id
    let next = 0;
    const requestAnimationFrame = function (callback) {
      const stack = stackOf ? stackOf() : new Error().stack; // made here: its second frame is the caller
      // The page is looked at only for the tracker's frames: the pad's own, while drawing, pass at once.
      if (!fromTracker(stack) || shown(win)) return ask.call(win, callback);
      const id = --next;
      waiting.set(id, win.setTimeout(() => {
        waiting.delete(id);
        callback(win.performance.now());
      }, WAIT_MS));
      return id;
    };
    requestAnimationFrame.calm = true;
    win.requestAnimationFrame = requestAnimationFrame;
    win.cancelAnimationFrame = function (id) {
      if (waiting.has(id)) {
        win.clearTimeout(waiting.get(id));
        waiting.delete(id);
      } else if (typeof cancel === "function") cancel.call(win, id);
    };
    return true;
  }

  return { caller, fromTracker, install, WAIT_MS };
});
