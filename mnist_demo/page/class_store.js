/* A student's class, kept in the browser's storage: which class this browser is in (its "seat")
 * and the outbox of what it must still tell the class (drawings kept, drawings withdrawn). Pure:
 * the storage is passed in (window.localStorage in the page, a Map-backed fake under Node:
 * tests/js/class_store.test.js). `MnistClassStore` in the browser.
 *
 * Why an outbox: a drawing a student keeps must reach the class even when the Wi-Fi drops, the
 * server restarts or the page reloads. It is written here first, sent when the server answers,
 * and leaves the outbox only when the class has stored it (or refused it for good). The drawing's
 * id, made on the device, makes a repeated send harmless: the class stores it exactly once.
 *
 * The seat: {code, student, teacher, state, note, model, chosen, sent}
 *   code, student: the class and this browser's anonymous id in it (the server's);
 *   teacher: the teacher token, on a teacher's browser;
 *   state: "joined", or why not: "locked" (refused: not taking students), "removed", "ended";
 *   note: the server's sentence about the last change; model: the class model's version (0: none);
 *   chosen: the models this browser answers with the class's model (its own choice, kept here);
 *   sent: how many of its drawings the class acknowledged.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistClassStore = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const SEAT_KEY = "mnist-draw-class";
  const OUTBOX_KEY = "mnist-draw-outbox";
  const STATES = ["joined", "locked", "removed", "ended"];
  // An outbox never grows without bound: a class takes at most a few thousand drawings, and a
  // browser's storage is ~5 MB (a kept drawing is ~1.2 kB here).
  const MAX_OUTBOX = 1000;

  function read(storage, key, fallback) {
    try {
      const text = storage.getItem(key);
      return text ? JSON.parse(text) : fallback;
    } catch (e) {
      return fallback; // refused, or damaged: start afresh rather than break the page
    }
  }

  function write(storage, key, value) {
    try {
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(value));
      return true;
    } catch (e) {
      return false; // refused (private browsing, full): the page keeps it in memory meanwhile
    }
  }

  // The seat while storage refuses it (private browsing): it lasts as long as the tab.
  let unsaved;

  /** The stored seat, or null when this browser is in no class and was refused by none. */
  function readSeat(storage) {
    const seat = unsaved !== undefined ? unsaved : read(storage, SEAT_KEY, null);
    return seat && typeof seat === "object" && (typeof seat.code === "string" || typeof seat.teacher === "string")
      ? seat : null;
  }

  /** Keep `seat` (null: none). */
  function saveSeat(storage, seat) {
    unsaved = write(storage, SEAT_KEY, seat) ? undefined : seat;
  }

  /** Change some of the stored seat's fields, if it is still `code`'s class (a late answer must
   * not touch a newer class). */
  function updateSeat(storage, code, change) {
    const seat = readSeat(storage);
    if (seat && seat.code === code) saveSeat(storage, { ...seat, ...change });
  }

  /** The seat after the server sent `update` (null: no class at all). What only this browser
   * knows (which models it chose, how many drawings were acknowledged) stays while the server's
   * seat is the same class and student. */
  function mergeSeat(old, update) {
    if (!update || (!update.code && !update.teacher)) return null;
    const same = old && old.code === update.code && old.student === update.student;
    return {
      ...update,
      chosen: same && Array.isArray(old.chosen) ? old.chosen : [],
      sent: same && Number.isInteger(old.sent) ? old.sent : 0,
    };
  }

  /** A student's seat (code and id), as the outbox's entries carry it; null for none. */
  function studentOf(seat) {
    return seat && seat.state === "joined" && seat.code && seat.student ? { code: seat.code, student: seat.student } : null;
  }

  /** The outbox in `storage`: entries {kind: "keep"|"withdraw", id, code, student, ...}, oldest
   * first. Each change is written at once; a refused write keeps the change in memory. */
  function createOutbox(storage, key = OUTBOX_KEY) {
    let memory = null; // the entries, while storage refuses writes

    function entries() {
      if (memory) return memory;
      const stored = read(storage, key, []);
      return Array.isArray(stored) ? stored.filter(valid) : [];
    }

    function save(list) {
      memory = write(storage, key, list.length ? list : null) ? null : list;
      return memory === null;
    }

    return {
      entries,
      /** Add an entry (a keep or a withdrawal); false when the outbox is full. A keep already in
       * it (the same id) is not added twice. */
      add(entry) {
        const list = entries();
        if (!valid(entry) || list.length >= MAX_OUTBOX) return false;
        if (entry.kind === "keep" && list.some((e) => e.kind === "keep" && e.id === entry.id)) return true;
        save(list.concat([entry]));
        return true;
      },
      /** Withdraw drawings: a keep still waiting is simply dropped (the class never had it); one
       * already sent is withdrawn from the class, by this seat. */
      withdraw(ids, seat) {
        const gone = new Set(ids);
        const list = entries();
        const waiting = new Set(list.filter((e) => e.kind === "keep" && gone.has(e.id)).map((e) => e.id));
        let kept = list.filter((e) => !(e.kind === "keep" && gone.has(e.id)));
        const sent = ids.filter((id) => !waiting.has(id));
        if (seat && sent.length && kept.length < MAX_OUTBOX) {
          kept = kept.concat([{ kind: "withdraw", ids: sent, code: seat.code, student: seat.student }]);
        }
        save(kept);
      },
      /** Remove an entry that was answered for good (found again by what it is: the outbox may
       * have changed while its answer was on the way). */
      done(entry) {
        const list = entries(), key = identity(entry);
        const at = list.findIndex((e) => identity(e) === key);
        if (at >= 0) save(list.slice(0, at).concat(list.slice(at + 1)));
      },
      /** Forget everything for a class (it ended, or this student was taken out). */
      dropClass(code) { save(entries().filter((e) => e.code !== code)); },
      /** How many kept drawings wait to be acknowledged by `code`'s class. */
      pending(code) { return entries().filter((e) => e.kind === "keep" && e.code === code).length; },
    };
  }

  function identity(e) {
    return JSON.stringify([e.kind, e.code, e.student, e.id, e.ids]);
  }

  function valid(e) {
    if (!e || typeof e.code !== "string" || typeof e.student !== "string") return false;
    if (e.kind === "keep") return Number.isSafeInteger(e.id) && Number.isInteger(e.label) && typeof e.pixels === "string";
    return e.kind === "withdraw" && Array.isArray(e.ids) && e.ids.every(Number.isSafeInteger);
  }

  return { SEAT_KEY, OUTBOX_KEY, STATES, MAX_OUTBOX, readSeat, saveSeat, updateSeat, mergeSeat, studentOf, createOutbox };
});
