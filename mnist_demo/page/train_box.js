/* What the Train tab's in-page run (page_trainer.js) and the teacher's (class_trainer.js) share of
 * their wiring: the app's address, a Web Worker made from the training script, the shipped weights
 * a run starts from, this page's MNIST (opened once per page, whichever tab asks first), a screen
 * wake lock while training, and a run's state with its status line.
 * Browser-only (it touches the network and the DOM): `MnistTrainBox`. The pure parts it calls are
 * mnist_data.js's.
 */
(function (root) {
  "use strict";

  // The app's own address (behind a proxy's root path too): Gradio says it, as pad.js reads it.
  const APP_ROOT = `${String((root.gradio_config || {}).root || root.location.origin).replace(/\/$/, "")}/`;
  const url = (path) => new URL(path, APP_ROOT).href;
  // Opened as localhost: this page is the server's own machine.
  const loopback = ["localhost", "127.0.0.1", "[::1]", "::1"].includes(root.location.hostname);

  let workerUrl = null; // one Blob URL for every worker of either run
  /** A training Web Worker that loads `scripts` (the app's paths, page_assets.worker_scripts) from
   * this app: the browser has them cached already, as the page's own head loaded them. */
  function makeWorker(scripts) {
    const source = `importScripts(${scripts.map((path) => JSON.stringify(url(path))).join(", ")});`;
    workerUrl = workerUrl || URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    return new Worker(workerUrl);
  }

  /** The bytes at the app's `path` (a training data file, a shipped model's weights). */
  async function fetchBytes(path) {
    const reply = await fetch(url(path));
    if (!reply.ok) throw new root.MnistData.DataError(`the server answered ${reply.status}`);
    return new Uint8Array(await reply.arrayBuffer());
  }

  /** The shipped models' safetensors bytes, {name: Uint8Array}, from their addresses (`urls`,
   * page_assets.shipped_urls): fetched when a run that starts from them begins, before it trains,
   * so a failure is said at once; the browser keeps the files (their hash is in the address). */
  async function shippedWeights(urls, names) {
    return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await fetchBytes(urls[name])])));
  }

  let opened = null; // {train, valid}: MNIST as this page holds it, every `validEvery`th validation digit
  let sameMachine = false; // the server says this page runs on its own machine (manifest.json's same_machine)
  /** MNIST's digits, opened once per page (from this browser's store, else downloaded): resolves
   * to {digits, fetched} (the bytes this call downloaded: 0 once opened). `onEvent` hears each file. */
  async function mnistDigits({ manifest, validEvery, onEvent }) {
    if (opened) return { digits: opened, fetched: 0 };
    const data = root.MnistData;
    const reply = await fetch(url(manifest), { cache: "no-cache" });
    const files = await reply.json();
    if (!reply.ok) throw new data.DataError(files.error || `the server answered ${reply.status}`);
    sameMachine = files.same_machine === true;
    let fetched = 0;
    const loaded = await data.loadDigits(files, { store: data.indexedDbStore(root.indexedDB), fetchBytes, gunzip: data.gunzip,
      onEvent: (e) => { if (e.from === "fetched") fetched += e.bytes; onEvent(e); } });
    opened = opened || { train: loaded.train, valid: data.everyNth(loaded.valid, validEvery) };
    return { digits: opened, fetched };
  }

  /** A screen wake lock while `busy()` (a locked screen suspends the workers), asked again when
   * the page is shown again; `release()` when the run ends. Refused (battery saver): the run goes on. */
  function wakeLock(busy) {
    let lock = null;
    async function ask() {
      try {
        if (!navigator.wakeLock || document.hidden) return;
        const granted = await navigator.wakeLock.request("screen");
        if (busy()) lock = granted;
        else granted.release().catch(() => {}); // the run ended while the lock was on its way
      } catch (e) { lock = null; }
    }
    document.addEventListener("visibilitychange", () => { if (!document.hidden && busy() && !lock) ask(); });
    return { ask, release() { if (lock) { lock.release().catch(() => {}); lock = null; } } };
  }

  /** A run's state (train_run.js's moves, mirrored on `box.dataset.state` for the page contract)
   * and its status line: `move(to)`, `busy()`, `say(text, problem)`. */
  function runBox(box, statusLine) {
    const moves = root.MnistTrainRun;
    const run = {
      state: "idle",
      move(to) { run.state = moves.move(run.state, to); box.dataset.state = run.state; },
      busy: () => moves.busy(run.state),
      say(text, problem = false) {
        statusLine.textContent = text;
        statusLine.classList.toggle("problem", problem);
      },
      /** The page answers its button from now on (`data-ready`; before, a press reached the
       * server, which refused it: page_trainer.not_on_server); `html` says what to press, when idle. */
      ready(html) {
        if (run.state === "idle") statusLine.innerHTML = html;
        box.dataset.ready = "true";
      },
    };
    return run;
  }

  /** This page runs on the server's own machine (opened as localhost, or at one of its network
   * addresses, as the server saw when it sent the data's list): its training leaves the server a
   * core, a worker fewer, where the server serves a class from a laptop. */
  const onServerMachine = () => loopback || sameMachine;

  root.MnistTrainBox = { url, onServerMachine, makeWorker, shippedWeights, mnistDigits, wakeLock, runBox };
})(typeof self !== "undefined" ? self : this);
