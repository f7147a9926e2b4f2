// The Train tab's "This device" mode, run by gr.HTML as `js_on_load` (`element`, `props`). DOM
// wiring only: train_box.js gets the digits (once per device) and makes the Web Workers, trainer.js
// trains, train_chart.js draws the curves, train_run.js says what happened, weights.js writes the file.
// From Start to done this sends no Gradio request: the app's Start and Stop buttons are answered
// here, before Gradio's own handlers hear the click. The finished weights go to the pad
// (window event "mnist-page-trained"), which keeps them in this browser.
const { MnistTrainer: trainer, MnistTrainChart: chart, MnistTrainRun: runs,
  MnistWeights: weights, MnistStore: store, MnistTrain: net, MnistTrainBox: shared } = window;
const setup = props.setup;
const $ = (selector) => element.querySelector(selector);
const box = $("#page-trainer"), statusLine = $(".pt-status"), progressLine = $(".pt-progress"), retry = $(".pt-retry");
const VALID_EVERY = setup.valid_every; // the page measures each epoch on every 10th validation digit
const MAX_WORKERS = setup.max_workers;
const DEVICE = setup.where_device;
const phase = shared.runBox(box, statusLine), say = phase.say; // the run's state, and its status line
let stopAsked = false, startedAt = 0, endedAt = 0, timer = null, digits = null;
const awake = shared.wakeLock(phase.busy);
const kept = store.createStore(store.browserStorage(window));

const seconds = () => (performance.now() - startedAt) / 1000;

// ------------------------------------------------------------------ the controls (Gradio's own)

function control(id) {
  const root = document.querySelector(`#${id}`);
  if (!root) return undefined;
  const radio = root.querySelector("input[type=radio]:checked");
  if (radio) return radio.value;
  const tick = root.querySelector("input[type=checkbox]");
  if (tick) return tick.checked;
  const input = root.querySelector("input[type=number]") || root.querySelector("input, textarea");
  return input ? input.value : undefined;
}
const where = () => control("train-where") || DEVICE;
const showWhere = () => { document.documentElement.dataset.trainWhere = where() === DEVICE ? "device" : "server"; };

/** The run's recipe: the preset, with what the controls say. */
function request() {
  const preset = setup.training.presets[control("train-preset")] ? control("train-preset") : "fast";
  const changes = runs.checkedChanges(setup.training.settings, {
    epochs: control("train-epochs"), limit: control("train-subset"), lr: control("train-lr"),
    batch_size: control("train-batch-size"), optimizer: control("train-optimizer"), schedule: control("train-schedule"),
    seed: control("train-seed"), augment: control("train-augment") });
  const target = Number(control("train-target"));
  const config = trainer.presetConfig(setup.training, preset, changes);
  config.target_acc = Number.isFinite(target) && target > 0 ? Math.min(target, 100) / 100 : null;
  const which = control("train-model") || "both";
  return { preset, config, names: which === "both" ? setup.names : [which], startFrom: control("train-start-from") || setup.start_from.new,
    include: control("train-include") === true };
}

// ------------------------------------------------------------------ the digits

async function loadDigits() {
  box.dataset.downloaded = "0";
  const { digits: opened, fetched } = await shared.mnistDigits({ manifest: setup.data_manifest, validEvery: VALID_EVERY,
    onEvent: (e) => { progressLine.textContent = `MNIST: ${e.name} ${e.from === "kept" ? "from this browser" : "downloaded"}`; } });
  box.dataset.downloaded = String(fetched);
  digits = opened;
  return digits;
}

// ------------------------------------------------------------------ where each model starts

/** `shipped`: the shipped models' bytes, fetched as the run began (run(), shared.shippedWeights). */
function startingParams(name, startFrom, config, shipped) {
  if (startFrom === setup.start_from.new) return { params: trainer.newParams(name, setup.shapes[name], config), finalRelu: config.final_relu, before: null };
  const bytes = startFrom === setup.start_from.shipped ? shipped[name] : kept.weights[name] && weights.base64ToBytes(kept.weights[name]);
  if (!bytes) throw new Error(`No trained ${setup.titles[name]} is kept in this browser yet: train one from new or shipped weights first.`);
  const model = weights.loadModel(name, bytes, setup.shapes[name], setup.max_weights_bytes);
  const params = Object.fromEntries(Object.entries(model.tensors).map(([k, v]) => [k, Float32Array.from(v)]));
  return { params, finalRelu: model.finalRelu };
}

/** The visitor's kept digits: those to train on, and a quarter held out (collection.py's rule). */
const ownDigits = () => runs.ownSets(kept.digits, setup.hold_out_every, trainer.heldOut, weights.base64ToBytes);

// ------------------------------------------------------------------ workers

const makeWorker = () => shared.makeWorker(setup.worker_scripts);

// ------------------------------------------------------------------ the run

const curves = { value: chart.createCurves() };
function drawCharts(epochs) {
  $(".pt-charts").hidden = false;
  const c = curves.value, titleOf = (key) => `${setup.titles[key.split(" ")[0]]} ${key.split(" ").slice(1).join(" ")}`;
  const titles = Object.fromEntries([...Object.keys(c.loss), ...Object.keys(c.acc)].map((k) => [k, titleOf(k)]));
  $(".pt-loss").innerHTML = chart.chartSvg(c.loss, { title: "Loss (training smoothed)", epochs })
    + `<figcaption>${chart.legendHtml(c.loss, titles)}</figcaption>`;
  $(".pt-acc").innerHTML = chart.chartSvg(c.acc, { title: `Validation accuracy (%), every ${VALID_EVERY}th digit`, epochs, decimals: 0 })
    + `<figcaption>${chart.legendHtml(c.acc, titles)}</figcaption>`;
}

function resultsHtml(name, valid, found) {
  const m = runs.confusion(valid.y, found.pred);
  const rows = m.map((row, t) => `<tr><th>${t}</th>${row.map((n, p) => `<td class="${t === p ? "diag" : ""}">${n}</td>`).join("")}</tr>`).join("");
  return `<h4>${setup.titles[name]}: confusion matrix (rows: the true digit; columns: its answer)</h4>`
    + `<table><tr><th></th>${[...Array(10).keys()].map((k) => `<th>${k}</th>`).join("")}</tr>${rows}</table>`
    + `<h4>${setup.titles[name]}: its most confident mistakes</h4><div class="pt-mistakes" data-model="${name}"></div>`;
}

function drawMistakes(name, valid, found) {
  const holder = element.querySelector(`.pt-mistakes[data-model="${name}"]`);
  for (const m of runs.worstMistakes(valid.y, found.pred, found.conf, 12)) {
    const figure = document.createElement("figure"), canvas = document.createElement("canvas");
    canvas.width = canvas.height = 28;
    const image = canvas.getContext("2d").createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = valid.x[m.index * 784 + i];
      image.data.set([v, v, v, 255], 4 * i);
    }
    canvas.getContext("2d").putImageData(image, 0, 0);
    figure.append(canvas);
    figure.insertAdjacentHTML("beforeend", `<figcaption>true ${m.label}, said ${m.pred} (${Math.round(100 * m.conf)} %)</figcaption>`);
    holder.append(figure);
  }
}

function finish(to) {
  clearInterval(timer);
  box.dataset.seconds = seconds().toFixed(1);
  endedAt = performance.now();
  phase.move(to);
  awake.release();
}

function failWith(text, canRetry = false) {
  finish("failed");
  say(text, true);
  retry.hidden = !canRetry;
}

/** One model's training, from where the controls say it starts: its result for keepResults.
 * `useWorkers`: in Web Workers where the browser has them, else on the page's own thread. */
async function trainModel(name, job, data, mine, shipped, useWorkers) {
  const scale = setup.recipe.pixel_scale;
  const config = { ...job.config };
  const start = startingParams(name, job.startFrom, config, shipped);
  config.final_relu = start.finalRelu;
  const params = start.params, model = net.createNet(name, { finalRelu: config.final_relu });
  const before = job.startFrom === setup.start_from.new ? null : trainer.evaluate(model, params, data.valid, scale).acc;
  const count = name === "cnn" ? trainer.workerCount({ cores: navigator.hardwareConcurrency, cap: MAX_WORKERS, spareOne: setup.serving_lan && shared.onServerMachine() }) : 1;
  const started = trainer.startWorkers(name, config.final_relu, count, useWorkers && typeof Worker === "function" ? makeWorker : null);
  box.dataset.workers = String(started.inWorkers ? started.workers.length : 0);
  say(started.inWorkers ? `Training the ${setup.titles[name]} here, in ${started.workers.length} Web Worker${started.workers.length > 1 ? "s" : ""}.`
    : `Training the ${setup.titles[name]} here, on the page itself: this browser has no Web Workers, so it is slower and the page may feel slow meanwhile.`);
  const modelStart = performance.now();
  let last = null, stepsDone = 0;
  const own = mine && mine.own.count ? mine.own : null;
  // Trained weights and your own digits: as on the server (finetune.py), the run keeps the epoch
  // that reads your held-out digits best among those losing at most a point of MNIST, or else the
  // weights it started from. (The server also tries rising shares of your digits; the page trains
  // at the recipe's share and chooses among its epochs.)
  const adaptive = before !== null && own !== null && mine.held.count > 0;
  const measure = () => {
    const valid = trainer.evaluate(model, params, data.valid, scale), held = trainer.evaluate(model, params, mine.held, scale);
    return { valid_loss: valid.loss, valid_acc: valid.acc, held_acc: held.acc, held_loss: held.loss };
  };
  const startPoint = adaptive ? { ...measure(), epoch: -1, params: trainer.copyParams(params) } : null;
  const checkpoints = [];
  try {
    for await (const ev of trainer.trainEpochs({ model: name, params, config, training: setup.training, data: data.train, valid: data.valid,
      workers: started.workers, scale, logEvery: name === "cnn" ? 5 : 20, own, ownHeld: mine && mine.held.count ? mine.held : null })) {
      // On the page's own thread every await is a microtask: yield to the event loop at each
      // event, so the page repaints and hears Stop.
      if (!started.inWorkers) await new Promise((resolve) => setTimeout(resolve, 0));
      chart.addEvent(curves.value, { ...ev, model: name });
      if (ev.kind === "step") {
        stepsDone = ev.epoch * ev.steps + ev.step;
        const eta = runs.etaSeconds({ stepsDone, totalSteps: config.epochs * ev.steps, elapsed: (performance.now() - modelStart) / 1000 });
        progressLine.textContent = `${setup.titles[name]} · epoch ${ev.epoch + 1}/${config.epochs} · step ${stepsDone.toLocaleString()}/${(config.epochs * ev.steps).toLocaleString()} · about ${runs.formatSeconds(eta)} left`;
      } else {
        last = ev;
        if (adaptive) {
          const held = trainer.evaluate(model, params, mine.held, scale);
          checkpoints.push({ epoch: ev.epoch, valid_loss: ev.valid_loss, valid_acc: ev.valid_acc, held_acc: held.acc,
            held_loss: held.loss, params: trainer.copyParams(params) });
        }
        drawCharts(config.epochs);
        if (config.target_acc !== null && ev.valid_acc >= config.target_acc) break;
      }
      if (stopAsked) break;
    }
  } catch (e) {
    // (out of memory in a worker is memory: the page's own thread would run out too)
    e.workersFailed = started.inWorkers && stepsDone === 0 && !runs.outOfMemory(e);
    throw e;
  } finally {
    started.workers.forEach((w) => w.terminate && w.terminate());
  }
  if (stopAsked && stepsDone) { // what was trained is kept: measured as it is now
    const now = trainer.evaluate(model, params, data.valid, scale);
    last = { epoch: last ? last.epoch + 1 : 0, valid_loss: now.loss, valid_acc: now.acc,
      own_held_acc: mine && mine.held.count ? trainer.evaluate(model, params, mine.held, scale).acc : null };
  }
  let choice = null;
  if (adaptive && !stopAsked) {
    const chosen = trainer.chooseCheckpoint(startPoint, checkpoints, setup.mnist_budget) || startPoint;
    for (const [k, v] of Object.entries(chosen.params)) params[k].set(v);
    last = { epoch: last ? last.epoch : 0, valid_loss: chosen.valid_loss, valid_acc: chosen.valid_acc, own_held_acc: chosen.held_acc };
    choice = { epoch: chosen.epoch, held_before: startPoint.held_acc, held_after: chosen.held_acc,
      valid_before: startPoint.valid_acc, valid_after: chosen.valid_acc, tried: checkpoints.length };
  }
  drawCharts(config.epochs);
  return { name, title: setup.titles[name], last, before, params, config, inWorkers: started.inWorkers, choice,
    trainCount: config.limit === null ? data.train.count : Math.min(config.limit, data.train.count), own: own ? own.count : 0,
    held: mine ? mine.held.count : 0, model, seconds: (performance.now() - modelStart) / 1000 };
}

/** Train each chosen model in turn, as the server does. */
async function run() {
  if (phase.busy()) return;
  let job;
  try {
    job = request();
  } catch (e) {
    failWith(`These settings cannot train: ${e.message}`);
    return;
  }
  stopAsked = false;
  retry.hidden = true;
  startedAt = performance.now();
  phase.move("loading");
  box.dataset.seconds = "0";
  timer = setInterval(() => { box.dataset.seconds = seconds().toFixed(1); }, 250);
  awake.ask();
  curves.value = chart.createCurves();
  $(".pt-verdict").textContent = "";
  $(".pt-results").innerHTML = "";
  $(".pt-results-box").hidden = true;
  $(".pt-charts").hidden = true;
  for (const name of setup.names) $(`#page-trainer-download-${name}`).hidden = true;
  say("Getting MNIST's digits (downloaded once; this browser keeps them)…");
  let data;
  try {
    data = await loadDigits();
  } catch (e) {
    failWith(`Could not get the training digits (${e.message}). Check the connection and try again.`, true);
    return;
  }
  let shipped = {};
  try {
    if (job.startFrom === setup.start_from.shipped) shipped = await shared.shippedWeights(props.shipped, job.names);
  } catch (e) {
    failWith(`Could not get the shipped weights (${e.message}). Check the connection and try again, or reload the page.`, true);
    return;
  }
  if (stopAsked) { finish("stopped"); say("Stopped before training began: nothing was trained."); return; }
  phase.move("running");
  const results = [];
  let inWorkers = true;
  try {
    const mine = job.include ? ownDigits() : null;
    for (const name of job.names) {
      if (stopAsked) break;
      let result;
      try {
        result = await trainModel(name, job, data, mine, shipped, true);
      } catch (e) {
        if (!e.workersFailed) throw e;
        // A worker that could not run (a blocked Blob URL, a script error) before the first step:
        // the page's own thread trains instead.
        result = await trainModel(name, job, data, mine, shipped, false);
      }
      inWorkers = inWorkers && result.inWorkers;
      results.push(result);
    }
  } catch (e) {
    // A model that finished before the failure (the linear one, when the CNN ran out of memory)
    // is kept as a finished run's would be.
    try {
      if (results.length) { keepResults(results, job, false); announce(results); }
    } catch (again) { // out of memory again while keeping them: the run still ends, and says so
    } finally {
      failWith(runs.failureSentence(e, results.map((r) => r.title)));
    }
    return;
  }
  const stopped = stopAsked;
  keepResults(results, job, stopped);
  finish(stopped ? "stopped" : "done");
  progressLine.textContent = `${Math.round(seconds())} s from Start${box.dataset.downloaded !== "0" ? `, ${(Number(box.dataset.downloaded) / 1e6).toFixed(1)} MB of MNIST downloaded (once: this browser keeps it)` : ""}`;
  say(stopped ? "Stopped: what was trained is kept." : `Done${inWorkers ? "" : " (on the page itself, without Web Workers)"}.`);
  announce(results);
}

/** The kept model's accuracy on the digits this run was measured on. The file's own figure will
 * not do: a model trained on the server records it on all 20,000, this run on every 10th. A kept
 * file this page cannot read is replaced. */
const keptMeasured = new Map(); // a kept file's accuracy on this page's digits, by the file: measured once
function keptAccuracy(name, b64) {
  if (keptMeasured.has(b64)) return keptMeasured.get(b64);
  let kept;
  try {
    kept = weights.loadModel(name, weights.base64ToBytes(b64), setup.shapes[name], setup.max_weights_bytes);
  } catch (e) {
    return null;
  }
  const model = net.createNet(name, { finalRelu: kept.finalRelu });
  const acc = trainer.evaluate(model, kept.tensors, data().valid, setup.recipe.pixel_scale).acc;
  keptMeasured.set(b64, acc);
  return acc;
}

/** Each trained model as a download, and as "my trained weights" unless the kept one is better. */
function keepResults(results, job, stopped) {
  const keptNow = kept.weights, better = {};
  for (const r of results) {
    if (!r.last) continue;
    const meta = runs.metadataFor({ model: r.name, finalRelu: r.config.final_relu, preset: job.preset, config: r.config,
      trainCount: r.trainCount, validCount: data().valid.count, validEvery: VALID_EVERY, last: r.last, seconds: r.seconds,
      startedFrom: job.startFrom === setup.start_from.new ? null : job.startFrom, own: r.own, held: r.held });
    const bytes = weights.toSafetensors(r.params, setup.shapes[r.name], meta);
    const link = $(`#page-trainer-download-${r.name}`);
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    link.hidden = false;
    const before = keptNow[r.name] ? keptAccuracy(r.name, keptNow[r.name]) : null;
    // The fine-tune on your digits chose within a point of MNIST for your style: it is yours, as
    // on the server (ui_train's adopt); any other run replaces only a worse model.
    if ((r.choice && !stopped) || runs.replaces(r.last.valid_acc, before)) {
      better[r.name] = store.bytesToBase64(bytes);
      keptMeasured.set(better[r.name], r.last.valid_acc); // measured on these digits already
    }
    else r.kept = before;
  }
  if (Object.keys(better).length) {
    const saved = kept.setWeights(better);
    if (!saved.ok) say(saved.problem, true);
  }
  element.pageTrainer.trained = better;
  const measured = `${data().valid.count.toLocaleString()} validation digits (every ${VALID_EVERY}th)`;
  $(".pt-verdict").textContent = runs.verdict({ stopped, seconds: seconds(), results, measured, target: job.config.target_acc })
    + results.filter((r) => r.choice).map((r) => ` ${r.title}: ${runs.choiceSentence(r.choice)}`).join("");
  for (const r of results) {
    if (!r.last) continue;
    const found = runs.predictAll(r.model, r.params, data().valid, setup.recipe.pixel_scale);
    $(".pt-results-box").hidden = false;
    $(".pt-results").insertAdjacentHTML("beforeend", resultsHtml(r.name, data().valid, found));
    drawMistakes(r.name, data().valid, found);
  }
}
const data = () => digits;

/** After done: the pad answers with the new weights (pad.js), and the server's session hears of
 * them then, not during the run. */
function announce(results) {
  const trained = element.pageTrainer.trained;
  if (Object.keys(trained).length) window.dispatchEvent(new CustomEvent("mnist-page-trained", { detail: { weights: trained } }));
}

function stop() {
  if (!phase.busy()) return;
  stopAsked = true;
  say("Stopping after this step…");
}

// Start and Stop are Gradio's buttons (their ids are the page's contract). With "This device" the
// click is answered here, in the capture phase, and never reaches Gradio: no request is sent.
window.addEventListener("click", (event) => {
  if (where() !== DEVICE) return;
  const startButton = event.target.closest && event.target.closest("#train-start");
  const stopButton = event.target.closest && event.target.closest("#train-stop");
  if (!startButton && !stopButton) return;
  if (stopButton && !phase.busy()) return; // nothing trains here: Stop is the server's (a run it holds)
  event.stopImmediatePropagation();
  event.preventDefault();
  if (startButton) run(); else stop();
}, { capture: true });
retry.addEventListener("click", () => run());
document.addEventListener("change", (event) => { if (event.target.closest && event.target.closest("#train-where")) showWhere(); });
showWhere();

// A browser that cannot train at all (no DecompressionStream to open the data, no typed arrays):
// say so, and offer the server where the host allows it.
const canTrain = typeof DecompressionStream === "function" && typeof Float32Array === "function" && typeof Promise === "function";
if (!canTrain) {
  phase.move("failed");
  say(setup.server_training ? "This browser cannot train the models itself: choose “The server” above, which trains them for you."
    : "This browser cannot train the models itself, and this server does not train them: try a recent Chrome, Edge, Firefox or Safari.", true);
  const serverChoice = document.querySelector(`#train-where input[value="${setup.where_server}"]`);
  if (serverChoice && setup.server_training) { serverChoice.click(); showWhere(); }
}
// Read-only views for the browser tests and benchmarks: when the run started and ended (for
// performance's resource entries) and what it kept.
element.pageTrainer = { startedAt: () => startedAt, endedAt: () => endedAt, trained: {} };
phase.ready("Press <b>Start training</b>: the models train here, on this device, and the server is not asked while they train.");
