/* The visitor's kept digits and trained weights, kept in the browser's own storage (localStorage)
 * so that a reload, a closed tab or a restarted server loses nothing, and no server ever stores
 * them. Pure: the storage is passed in (window.localStorage in the page, a Map-backed fake under
 * Node: tests/js/store.test.js). `MnistStore` in the browser.
 *
 * One key holds everything, as JSON: {version, digits: [{id, label, pixels}], weights: {name: b64}}.
 * A digit's pixels are MNIST's 784 bytes (value = round(x * 256), clipped to 255), in base64.
 * Writing the whole record at once means a refused write (storage full, blocked) leaves the last
 * good record as it was: nothing already kept is lost.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistStore = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const KEY = "mnist-draw-train";
  const VERSION = 1;

  function bytesToBase64(bytes) {
    if (typeof Buffer !== "undefined") return Buffer.from(bytes).toString("base64");
    let bin = "";
    for (let i = 0; i < bytes.length; i += 8192) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    return btoa(bin);
  }

  /** A digit (numbers in [0, 1], scaled like training) as MNIST's bytes: x * scale rounded half
   * to even, as numpy's rint in mnist_demo/collection.py's to_bytes, then clipped to 0..255. */
  function digitBytes(digit, scale) {
    const out = new Uint8Array(digit.length);
    for (let i = 0; i < digit.length; i++) {
      const v = digit[i] * scale, floor = Math.floor(v), rest = v - floor;
      const rounded = rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
      out[i] = Math.max(0, Math.min(255, rounded));
    }
    return out;
  }

  /** A new digit id: a random whole number below 2**53 (exact in JSON and in Python), made on the
   * device, so a keep repeated by a double tap or a network retry is still one digit. */
  function newId(random = Math.random) {
    return Math.floor(random() * 2 ** 21) * 2 ** 32 + Math.floor(random() * 2 ** 32);
  }

  const EMPTY = () => ({ version: VERSION, digits: [], weights: {}, gone: [] });
  // Deleted ids remembered (the newest GONE): a deletion whose request was lost on the way (the
  // server restarting, a dropped connection) is sent again with the next restore.
  const GONE = 500;

  /** Why a write was refused, as a sentence for the visitor. */
  function refusal(error) {
    const full = error && (error.name === "QuotaExceededError" || error.code === 22);
    return full ? "This browser's storage for the page is full: it keeps what it had, but not this."
      : "This browser does not let the page store anything (private browsing, or the app shown inside another site).";
  }

  /** The record in `storage` under `key`, and the operations on it. Each change returns
   * {ok: true} or {ok: false, problem: a sentence}; on a refusal the stored record is unchanged
   * and the in-memory one keeps the change (it lasts until the tab closes). */
  function createStore(storage, key = KEY) {
    let record = EMPTY(), problem = null;
    let unsaved = []; // digits kept while a write was refused: they last as long as this tab

    /** Read the stored record again before each change: the pad and the gallery share it, and so
     * may two tabs of the app. When storage cannot be read, the in-memory record goes on. */
    function refresh() {
      try {
        const text = storage.getItem(key);
        const saved = text ? JSON.parse(text) : null;
        if (saved && saved.version === VERSION && Array.isArray(saved.digits) && saved.weights && typeof saved.weights === "object") {
          record = { version: VERSION, digits: saved.digits.filter(valid), weights: saved.weights,
            gone: Array.isArray(saved.gone) ? saved.gone.filter(Number.isSafeInteger).slice(-GONE) : [] };
        }
        const known = new Set(record.digits.map((d) => d.id));
        record.digits = record.digits.concat(unsaved.filter((d) => !known.has(d.id)));
        problem = null;
      } catch (e) {
        problem = e instanceof SyntaxError ? "The digits stored in this browser were damaged; starting afresh." : refusal(e);
      }
    }
    refresh();

    function write(added = []) {
      try {
        storage.setItem(key, JSON.stringify(record));
        unsaved = [];
        return { ok: true };
      } catch (e) {
        unsaved = unsaved.concat(added);
        return { ok: false, problem: refusal(e) };
      }
    }

    return {
      get digits() { refresh(); return record.digits; },
      get weights() { refresh(); return record.weights; },
      /** The ids deleted here, newest last (at most GONE). */
      get gone() { refresh(); return record.gone; },
      /** null, or why nothing could be read (storage blocked, or a damaged record). */
      get problem() { return problem; },
      /** Whether the browser lets this page write at all (tried once, with a throwaway key). */
      available() {
        try {
          storage.setItem(`${key}:probe`, "1");
          storage.removeItem(`${key}:probe`);
          return true;
        } catch (e) {
          return false;
        }
      },
      add(digits) {
        refresh();
        const known = new Set(record.digits.map((d) => d.id));
        const added = digits.filter((d) => valid(d) && !known.has(d.id));
        record.digits = record.digits.concat(added);
        return write(added);
      },
      remove(id) {
        refresh();
        unsaved = unsaved.filter((d) => d.id !== id);
        record.digits = record.digits.filter((d) => d.id !== id);
        record.gone = record.gone.concat([id]).slice(-GONE);
        return write();
      },
      clearDigits() {
        refresh();
        unsaved = [];
        record.gone = record.gone.concat(record.digits.map((d) => d.id)).slice(-GONE);
        record.digits = [];
        return write();
      },
      setWeights(weights) {
        refresh();
        record.weights = { ...record.weights, ...weights };
        return write();
      },
    };
  }

  /** The page's localStorage, or a stand-in that refuses everything where the browser denies the
   * page storage (reading window.localStorage itself throws then, in some browsers). */
  function browserStorage(win) {
    try {
      if (win.localStorage) return win.localStorage;
    } catch (e) { /* denied: the stand-in below says so on every use */ }
    const deny = () => { const e = new Error("storage denied"); e.name = "SecurityError"; throw e; };
    return { getItem: deny, setItem: deny, removeItem: deny };
  }

  function valid(d) {
    return d && Number.isSafeInteger(d.id) && d.id >= 0 && Number.isInteger(d.label) && d.label >= 0 && d.label <= 9
      && typeof d.pixels === "string";
  }

  return { KEY, VERSION, bytesToBase64, digitBytes, newId, createStore, browserStorage };
});
