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
 * The seat: {code, student, teacher, state, model, chosen, sent}
 *   code, student: the class and this browser's anonymous id in it (the server's);
 *   teacher: the teacher token, on a teacher's browser;
 *   state: "joined", or why not: "locked" or "full" (a join refused), "removed", "ended";
 *   model: the class model's version (0: none);
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
  const RECEIPTS_KEY = "mnist-draw-sent";
  const STATES = ["joined", "locked", "full", "removed", "ended"];
  // An outbox never grows without bound: a class takes at most a few thousand drawings, and a
  // browser's storage is ~5 MB (a kept drawing is ~1.2 kB here).
  const MAX_OUTBOX = 1000;
  const MAX_RECEIPTS = 5000; // the ids of drawings acknowledged by a class: a class holds at most 5,000

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

  /** Change some of the stored seat's fields, if it is still `seat`'s class and student (a late
   * answer must not touch a newer seat, the same class joined again included). */
  function updateSeat(storage, seat, change) {
    const now = readSeat(storage);
    if (now && now.code === seat.code && now.student === seat.student) saveSeat(storage, { ...now, ...change });
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

  /** The outbox in `storage`: entries {kind: "keep"|"withdraw", id or ids, code, student, ...},
   * oldest first; and the receipts of what each class acknowledged ({"CODE student": [ids]}), so
   * that a digit deleted later is taken back from the class it went to, by the seat that sent it,
   * whichever class this browser is in by then. Each change is written at once; a refused write
   * keeps the change in memory (the page keeps one outbox: sharedOutbox).
   *
   * Each entry has a key of its own (`mnist-draw-outbox:keep 123`), written and removed alone. The
   * tabs of one browser share the outbox, and each reads localStorage from its own copy, which hears
   * of another tab's writes a moment late (whatwg/html#403): a list under one key, read and written
   * back whole, let a tab whose send was answered write back a list that lacked the drawing another
   * tab had just kept, and that drawing never reached the class. */
  function createOutbox(storage, key = OUTBOX_KEY, receiptsKey = RECEIPTS_KEY) {
    const prefix = `${key}:`;
    const held = new Map(); // entries whose write storage refused: they last as long as the tab
    let memoryReceipts = null; // while storage refuses writes
    let last = 0; // the newest entry's `at`: entries are sent oldest first

    const nameOf = (e) => prefix + (e.kind === "keep" ? `keep ${e.id}` : `withdraw ${e.code} ${e.student} ${e.at}`);

    function stored() {
      const found = [];
      try {
        for (let i = 0; i < (storage.length || 0); i++) {
          const name = storage.key(i);
          if (name && name.startsWith(prefix) && !held.has(name)) found.push(read(storage, name, null));
        }
      } catch (e) { /* storage denied: what this tab holds goes on */ }
      return found;
    }

    function entries() {
      return stored().concat([...held.values()]).filter(valid).sort((a, b) => (a.at || 0) - (b.at || 0));
    }

    function put(entry) {
      last = Math.max(last + 1, Date.now() * 1000); // (below 2**53 until the year 2255)
      const dated = { ...entry, at: last }, name = nameOf(dated);
      if (write(storage, name, dated)) held.delete(name); else held.set(name, dated);
    }

    /** Take `entry` out; false when it was not there (another tab took it out first). */
    function take(entry) {
      const name = nameOf(entry), there = held.delete(name) || read(storage, name, null) !== null;
      write(storage, name, null);
      return there;
    }

    // An outbox kept by an earlier version, as one list: each entry under its own key, in order.
    const old = read(storage, key, null);
    if (Array.isArray(old)) {
      old.filter(valid).forEach((e, i) => write(storage, nameOf({ ...e, at: i }), { ...e, at: i }));
      write(storage, key, null);
    }

    function receipts() {
      if (memoryReceipts) return memoryReceipts;
      const stored = read(storage, receiptsKey, {});
      return stored && typeof stored === "object" && !Array.isArray(stored) ? stored : {};
    }

    function saveReceipts(all) {
      let total = Object.values(all).reduce((n, ids) => n + ids.length, 0);
      for (const seat of Object.keys(all)) { // the oldest receipts go first past the cap
        while (total > MAX_RECEIPTS && all[seat].length) { all[seat].shift(); total--; }
        if (!all[seat].length) delete all[seat];
      }
      memoryReceipts = write(storage, receiptsKey, Object.keys(all).length ? all : null) ? null : all;
    }

    const seatKey = (e) => `${e.code} ${e.student}`;
    const mine = (e, seat) => e.code === seat.code && e.student === seat.student;

    return {
      entries,
      /** Add an entry (a keep or a withdrawal); false when the outbox is full. A keep already in
       * it (the same id) is not added twice. */
      add(entry) {
        const list = entries();
        if (!valid(entry) || list.length >= MAX_OUTBOX) return false;
        if (entry.kind === "keep" && list.some((e) => e.kind === "keep" && e.id === entry.id)) return true;
        put(entry);
        return true;
      },
      /** The class acknowledged `entry`: it leaves the outbox, and a keep leaves a receipt; true.
       * False when it had left already: another tab of this browser (which shares the outbox) sent
       * it too and was answered first, so it is counted once; or a keep withdrawn while its answer
       * was on the way, which leaves no receipt: its withdrawal is already queued behind it. */
      sent(entry) {
        if (!take(entry)) return false;
        if (entry.kind !== "keep") return true;
        const all = receipts();
        all[seatKey(entry)] = (all[seatKey(entry)] || []).concat([entry.id]);
        saveReceipts(all);
        return true;
      },
      /** Take drawings back: each from the class it went to (its receipt), or, still in the outbox
       * (waiting, or on its way this very moment), dropped there and withdrawn after it, in case
       * it arrives. Ids this browser never sent to a class are left alone. */
      withdraw(ids) {
        const gone = new Set(ids), bySeat = new Map();
        const note = (seat, id) => {
          const k = seatKey(seat);
          if (!bySeat.has(k)) bySeat.set(k, { kind: "withdraw", ids: [], code: seat.code, student: seat.student });
          bySeat.get(k).ids.push(id);
        };
        for (const e of entries().filter((e) => e.kind === "keep" && gone.has(e.id))) { take(e); note(e, e.id); }
        const all = receipts();
        for (const [k, sentIds] of Object.entries(all)) {
          const [code, student] = k.split(" ");
          for (const id of sentIds.filter((i) => gone.has(i))) note({ code, student }, id);
          all[k] = sentIds.filter((i) => !gone.has(i));
        }
        bySeat.forEach(put); // one per seat: past the cap too, to take back what was given
        saveReceipts(all);
      },
      /** Remove an entry that was answered for good (a refusal, or a withdrawal done). */
      done(entry) { take(entry); },
      /** Forget what waits for one seat (taken out of the class, or it left), or with `student`
       * null for every seat of a class (it ended). Returns how many keeps were dropped. */
      drop(code, student = null) {
        const dropped = entries().filter((e) => e.code === code && (student === null || e.student === student));
        dropped.forEach(take);
        return dropped.filter((e) => e.kind === "keep").length;
      },
      /** How many kept drawings wait to be acknowledged by this seat's class. */
      pending(seat) { return seat ? entries().filter((e) => e.kind === "keep" && mine(e, seat)).length : 0; },
    };
  }

  // The page's one outbox: the pad sends it, the Your digits tab adds withdrawals to it. One
  // object, so that a change held in memory (storage refused) is seen by both.
  let shared = null;
  function sharedOutbox(storage) {
    if (!shared) shared = createOutbox(storage);
    return shared;
  }

  function valid(e) {
    if (!e || typeof e.code !== "string" || typeof e.student !== "string") return false;
    if (e.kind === "keep") return Number.isSafeInteger(e.id) && Number.isInteger(e.label) && typeof e.pixels === "string";
    return e.kind === "withdraw" && Array.isArray(e.ids) && e.ids.every(Number.isSafeInteger);
  }

  return { SEAT_KEY, OUTBOX_KEY, RECEIPTS_KEY, STATES, MAX_OUTBOX, MAX_RECEIPTS, readSeat, saveSeat, updateSeat,
           mergeSeat, studentOf, createOutbox, sharedOutbox };
});
