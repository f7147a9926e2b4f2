/* The student's class line, above the pad: which class they are in and what just happened, drawn
 * by the page from its own stored seat and outbox (class_store.js), so it is right while the
 * server is down. Pure: tests/js/class_line.test.js. `MnistClassLine` in the browser.
 *
 * The page contract: #class-line carries data-state (joined, waiting, locked, removed, ended) and
 * data-pending (kept drawings not yet acknowledged by the class).
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistClassLine = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** ABC123 as "ABC 123", as the server writes it (classes/views.spaced). */
  function spaced(code) {
    return code.length > 4 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
  }

  const FORGET = { kind: "forget", label: "OK" }; // the line goes, until the next class

  const WHY_WAITING = {
    offline: "no connection; they go as soon as you are back online.",
    server: "the server is not answering; trying again.",
    slow: "the class is busy; trying again in a moment.",
  };

  /** What the line shows. `seat`: the stored seat (or null); `pending`: keeps not yet
   * acknowledged; `trouble`: why the last send did not go through (offline, server, slow) or
   * null; `online`: false when the browser says it has no connection now (said over `trouble`,
   * and by a tab that has not tried to send yet, because another tab of this browser kept); `using`:
   * whether the pad answers with the class's model now.
   * Returns {visible, state, pending, text, action}: action, a button ({kind, label}) or null. */
  function lineView({ seat, pending = 0, trouble = null, online = true, using = false }) {
    if (!seat || !seat.code || !seat.state) return { visible: false, state: "", pending: 0, text: "", action: null };
    const name = `class ${spaced(seat.code)}`;
    const note = seat.note ? ` ${seat.note}` : "";
    if (seat.state === "locked") {
      return { visible: true, state: "locked", pending: 0, action: FORGET,
               text: `Class ${spaced(seat.code)} is not taking new students right now. Ask your teacher to unlock joining, then scan the code or open the join link again.` };
    }
    if (seat.state === "full") { // refused as a locked class is (the page contract's state), for another reason
      return { visible: true, state: "locked", pending: 0, action: FORGET,
               text: `Class ${spaced(seat.code)} is full: it has as many students as it can take. Tell your teacher.` };
    }
    if (seat.state === "removed" || seat.state === "ended") {
      const what = seat.state === "removed" ? `Your teacher took you out of ${name}.` : `Class ${spaced(seat.code)} has ended.`;
      return { visible: true, state: seat.state, pending: 0, action: FORGET,
               text: `${what} Your own digits are still in this browser.` };
    }
    let text, action = null;
    const sent = Number.isInteger(seat.sent) ? seat.sent : 0;
    if (pending > 0) {
      const why = online === false ? "offline" : trouble; // what the browser knows now, over the last try's guess
      text = `Class ${spaced(seat.code)} · waiting to send (${pending}): ${WHY_WAITING[why] || "sending…"}`;
    } else if (sent > 0) {
      text = `Class ${spaced(seat.code)} · ${sent} sent to the class.${note}`;
    } else {
      text = `You are in ${name}: what you keep goes to the class, without your name.${note}`;
    }
    if (seat.model > 0) {
      if (using) {
        text += " Answering with our class’s model.";
        action = { kind: "shipped", label: "Back to the shipped models" };
      } else {
        text += " Your class’s model is ready.";
        action = { kind: "use", label: "Use our class’s model" };
      }
    }
    return { visible: true, state: pending > 0 ? "waiting" : "joined", pending, text, action };
  }

  /** What to do with an outbox entry after the server's reply to it (or a failed call: reply
   * null). "done": acknowledged (stored now, or stored before), drop it and count it; "retry": keep
   * it and try later (an outage, "slow down"); "final": refused for good (removed, ended, locked,
   * full), drop it and say so. `trouble`: why it waits; `state`/`note`: the seat's new state.
   * A server error is retried too: the outbox sends in order, and must not lose a drawing to a
   * fault that a restarted server may not have. */
  function verdict(reply, online = true) {
    const result = reply && typeof reply === "object" ? reply.result : undefined;
    if (result === "stored" || result === "stored before") return { action: "done" };
    if (result === "retry") return { action: "retry", trouble: "slow", note: reply.message || null };
    if (result === "refused") return { action: "final", state: reply.state || null, note: reply.message || null };
    // No answer the class gave (none, or Gradio's own error object): offline, if the browser says so.
    return { action: "retry", trouble: online ? "server" : "offline" };
  }

  /** Milliseconds before the next try, after `tries` failed ones: 1 s, 2 s, 4 s... at most 15 s. */
  function backoff(tries) {
    return Math.min(15000, 1000 * 2 ** Math.max(0, tries));
  }

  return { spaced, lineView, verdict, backoff };
});
