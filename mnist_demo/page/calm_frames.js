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

  /** Whether the page shows a tracker now, counting (one showing an error counts no time). */
  function shown(win) {
    if (!win.document) return false;
    for (const tracker of win.document.querySelectorAll(SHOWN)) if (!tracker.querySelector(".error")) return true;
    return false;
  }

  /** Replace `win.requestAnimationFrame` (and its cancel) with the calm ones, once. `stackOf`
   * stands in for the caller's stack in tests. */
  function install(win, stackOf = null) {
    const ask = win.requestAnimationFrame, cancel = win.cancelAnimationFrame;
    if (typeof ask !== "function" || ask.calm) return false;
    // Our ids (negative, so never a browser's) -> {timer} while waiting, then {frame}: after the wait
    // the frame is the browser's to give, so a page in a background tab still gets none.
    const waiting = new Map();
    let next = 0;
    const requestAnimationFrame = function (callback) {
      const stack = stackOf ? stackOf() : new Error().stack; // made here: its second frame is the caller
      // The page is looked at only for the tracker's frames: the pad's own, while drawing, pass at once.
      if (!fromTracker(stack) || shown(win)) return ask.call(win, callback);
      const id = --next;
      const timer = win.setTimeout(() => {
        waiting.set(id, { frame: ask.call(win, (time) => { waiting.delete(id); callback(time); }) });
      }, WAIT_MS);
      waiting.set(id, { timer });
      return id;
    };
    requestAnimationFrame.calm = true;
    win.requestAnimationFrame = requestAnimationFrame;
    win.cancelAnimationFrame = function (id) {
      const entry = waiting.get(id);
      if (entry === undefined) return typeof cancel === "function" ? cancel.call(win, id) : undefined;
      waiting.delete(id);
      if ("timer" in entry) win.clearTimeout(entry.timer);
      else if (typeof cancel === "function") cancel.call(win, entry.frame);
    };
    return true;
  }

  return { caller, fromTracker, install, WAIT_MS };
});
