/* MNIST for training in the page: the app's four data files (mnist_demo/page_data.py), fetched
 * once per device, checked against the SHA-256 their URL names, kept as the served (gzip) bytes in
 * the browser (IndexedDB: unlike the Cache API it exists on a plain-http LAN address too), gunzipped
 * and read as IDX into bytes. The digits stay Uint8Array: as float32 the 50,000 training digits
 * would cost 157 MB in every worker; a batch is scaled when it is made (trainer.js).
 *
 * Pure but for `gunzip` (DecompressionStream) and `indexedDbStore`, which are given to
 * `loadDigits` by the wiring (page_trainer.js); tests give fakes. `MnistData` in the browser.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistData = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const IMAGES_MAGIC = 2051, LABELS_MAGIC = 2049; // data.py's: unsigned bytes, 3 and 1 dimensions
  const FILES = ["train-images", "train-labels", "valid-images", "valid-labels"];

  class DataError extends Error {}

  // ------------------------------------------------------------------ SHA-256
  // Written out, not crypto.subtle: that exists only on https or localhost, and a class on a
  // laptop's LAN address is neither. About 0.1 s for the 11 MB.
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

  /** The SHA-256 of `bytes` (a Uint8Array), as 64 lowercase hex digits. */
  function sha256(bytes) {
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    const w = new Uint32Array(64);
    const whole = bytes.length - (bytes.length % 64);
    const tail = new Uint8Array(bytes.length % 64 < 56 ? 64 : 128); // the last bytes, the 1 bit, the length
    tail.set(bytes.subarray(whole));
    tail[bytes.length % 64] = 0x80;
    const bits = bytes.length * 8, tv = new DataView(tail.buffer);
    tv.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    tv.setUint32(tail.length - 4, bits >>> 0);
    const block = (src, at) => {
      for (let i = 0; i < 16; i++) {
        const j = at + 4 * i;
        w[i] = (src[j] << 24) | (src[j + 1] << 16) | (src[j + 2] << 8) | src[j + 3];
      }
      for (let i = 16; i < 64; i++) {
        const a = w[i - 15], b = w[i - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    };
    for (let at = 0; at < whole; at += 64) block(bytes, at);
    for (let at = 0; at < tail.length; at += 64) block(tail, at);
    return Array.from(h, (v) => v.toString(16).padStart(8, "0")).join("");
  }

  // ------------------------------------------------------------------ IDX

  /** An uncompressed IDX file (data.py's parse_idx, in the page): {shape, data: a Uint8Array view
   * of the values}, or a DataError saying what is wrong. */
  function parseIdx(bytes, magic, where = "IDX data") {
    if (bytes.length < 8) throw new DataError(`${where}: truncated file (${bytes.length} bytes, no IDX header)`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const found = view.getUint32(0);
    if (found !== magic) throw new DataError(`${where}: wrong magic number ${found}, expected ${magic}`);
    const ndim = bytes[3], header = 4 + 4 * ndim;
    if (bytes.length < header) throw new DataError(`${where}: truncated header`);
    const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
    const expected = shape.reduce((a, b) => a * b, 1);
    if (bytes.length - header !== expected) {
      throw new DataError(`${where}: header promises ${expected} bytes of data, found ${bytes.length - header}`);
    }
    return { shape, data: bytes.subarray(header) };
  }

  /** Images and labels as the trainer takes digits: {x: count * 784 bytes, y, count}. */
  function digitsOf(imagesIdx, labelsIdx, where) {
    const images = parseIdx(imagesIdx, IMAGES_MAGIC, `${where} images`), labels = parseIdx(labelsIdx, LABELS_MAGIC, `${where} labels`);
    if (images.shape.length !== 3 || images.shape[1] !== 28 || images.shape[2] !== 28) {
      throw new DataError(`${where} images are not 28x28`);
    }
    if (images.shape[0] !== labels.shape[0]) throw new DataError(`${where}: ${images.shape[0]} images but ${labels.shape[0]} labels`);
    for (const label of labels.data) if (label > 9) throw new DataError(`${where}: label ${label} out of range 0..9`);
    return { x: images.data, y: labels.data, count: images.shape[0] };
  }

  /** Every `every`-th digit of `digits` (the page measures each epoch on a subset: say which). */
  function everyNth(digits, every) {
    const count = Math.ceil(digits.count / every), x = new Uint8Array(count * 784), y = new Uint8Array(count);
    for (let k = 0; k < count; k++) {
      x.set(digits.x.subarray(k * every * 784, (k * every + 1) * 784), k * 784);
      y[k] = digits.y[k * every];
    }
    return { x, y, count };
  }

  // ------------------------------------------------------------------ fetched once, kept

  /** One file's served bytes: from `store` when it holds bytes whose SHA-256 is the manifest's,
   * else fetched (`fetchBytes(url) -> Uint8Array`), checked, and kept. A kept copy that no longer
   * matches (another MNIST on the server, a damaged store) is fetched again. `onEvent` hears
   * {name, from: "kept" | "fetched", bytes}. */
  async function keptOrFetched(name, file, { store, fetchBytes, onEvent = () => {} }) {
    let kept = null;
    try {
      kept = store ? await store.get(name) : null;
    } catch (e) { kept = null; } // an unreadable store: fetch
    if (kept && kept.sha256 === file.sha256 && kept.bytes instanceof Uint8Array && sha256(kept.bytes) === file.sha256) {
      onEvent({ name, from: "kept", bytes: kept.bytes.length });
      return kept.bytes;
    }
    const bytes = await fetchBytes(file.url);
    if (sha256(bytes) !== file.sha256) throw new DataError(`the download of ${name} was damaged on the way (its hash does not match)`);
    try {
      if (store) await store.put(name, { sha256: file.sha256, bytes });
    } catch (e) { /* storage full or denied: it works, and downloads again next time */ }
    onEvent({ name, from: "fetched", bytes: bytes.length });
    return bytes;
  }

  /** The training and validation digits the manifest names: {train, valid}, each {x, y, count}.
   * `gunzip(bytes) -> Promise<Uint8Array>`. */
  async function loadDigits(manifest, { store, fetchBytes, gunzip, onEvent }) {
    if (!manifest || manifest.version !== 1 || !manifest.files) throw new DataError("the server's list of data files is not one this page reads");
    const opened = {};
    for (const name of FILES) {
      const file = manifest.files[name];
      if (!file) throw new DataError(`the server lists no ${name}`);
      opened[name] = await gunzip(await keptOrFetched(name, file, { store, fetchBytes, onEvent }));
    }
    return { train: digitsOf(opened["train-images"], opened["train-labels"], "training"),
      valid: digitsOf(opened["valid-images"], opened["valid-labels"], "validation") };
  }

  /** gzip bytes opened by the browser's DecompressionStream (Chrome 80, Safari 16.4, Firefox 113). */
  async function gunzip(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  /** A store {get(name), put(name, value)} in IndexedDB (`idb`: window.indexedDB), or null where
   * the browser has none or refuses it (private browsing): then every training downloads. */
  function indexedDbStore(idb, dbName = "mnist-draw-train-data") {
    if (!idb) return null;
    const open = () => new Promise((resolve, reject) => {
      const request = idb.open(dbName, 1);
      request.onupgradeneeded = () => request.result.createObjectStore("files");
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const run = async (mode, act) => {
      const db = await open();
      try {
        return await new Promise((resolve, reject) => {
          const tx = db.transaction("files", mode), request = act(tx.objectStore("files"));
          tx.oncomplete = () => resolve(request.result);
          tx.onerror = tx.onabort = () => reject(tx.error);
        });
      } finally { db.close(); }
    };
    return {
      get: (name) => run("readonly", (s) => s.get(name)),
      put: (name, value) => run("readwrite", (s) => s.put(value, name)),
    };
  }

  return { IMAGES_MAGIC, LABELS_MAGIC, FILES, DataError, sha256, parseIdx, digitsOf, everyNth, keptOrFetched, loadDigits, gunzip, indexedDbStore };
});
