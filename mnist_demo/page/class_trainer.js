// The Class tab's "This device" mode for the teacher, run by gr.HTML as `js_on_load` (`element`,
// `props`). DOM wiring only: the pure parts are class_training.js (the drawings, the recipe, which
// weights to keep, the notes), trainer.js (training), train_box.js (MNIST, opened once per page for
// both tabs; the Web Workers; the wake lock), train_chart.js (the curves). "Train on our class" fetches the
// class's drawings once (GET /class-page/drawings), fine-tunes both shipped models on them here,
// and "Give it to the class" uploads the weights (POST /class-page/model), which the server gives
// to the class as it gives its own training's. Gradio's buttons are answered here, in the capture
// phase, while "This device" is chosen: no Gradio event is sent, and the server does not train.
const { MnistTrainer: trainer, MnistTrainChart: chart, MnistTrainRun: runs,
  MnistWeights: weights, MnistStore: store, MnistTrain: net, MnistClassTraining: classes, MnistTrainBox: shared } = window;
const setup = props.setup;
const $ = (selector) => element.querySelector(selector);
const box = $("#class-trainer"), statusLine = $(".pt-status"), progressLine = $(".pt-progress");
const DEVICE = setup.where_device, VALID_EVERY = setup.valid_every;

const phase = shared.runBox(box, statusLine), say = phase.say; // the run's state, and its status line
let stopAsked = false, startedAt = 0, timer = null, mnist = null;
const awake = shared.wakeLock(phase.busy);
let trained = null; // {bytes: {name: Uint8Array}, notes: {name: {...}}}: what "Give it to the class" uploads

const seconds = () => (performance.now() - startedAt) / 1000;

// ------------------------------------------------------------------ the controls (Gradio's own)

function where() {
  const radio = document.querySelector("#class-train-where input[type=radio]:checked");
  return radio ? radio.value : DEVICE;
}
function showWhere() {
  const here = where() === DEVICE;
  document.documentElement.dataset.classTrainWhere = here ? "device" : "server";
  if (here) showPublish(trained !== null && !phase.busy());
  else if (publishShown) showPublish(false); // the server's training shows it for its own model
}
/** "Give it to the class" is Gradio's button, kept in the page hidden (visible="hidden" puts
 * Gradio's `hidden` class on it); a model trained here shows it, and hides it again while another
 * run trains or the server is chosen. */
let publishShown = false;
function showPublish(shown) {
  const button = document.querySelector("#class-publish");
  if (button) button.classList.toggle("hidden", !shown);
  publishShown = shown;
}
const token = () => classes.teacherToken((document.querySelector("#class-seat-echo textarea, #class-seat-echo input") || {}).value);

// ------------------------------------------------------------------ the data

async function classDrawings(teacher) {
  const reply = await fetch(shared.url(setup.class_drawings), { headers: { [setup.token_header]: teacher }, cache: "no-store" });
  const body = await reply.json().catch(() => null);
  if (!reply.ok) throw new classes.DrawingsError(classes.refusalSentence(reply.status, body));
  return classes.decodeDrawings(body, weights.base64ToBytes);
}

async function mnistDigits() {
  ({ digits: mnist } = await shared.mnistDigits({ manifest: setup.data_manifest, validEvery: VALID_EVERY,
    onEvent: (e) => { progressLine.textContent = `MNIST: ${e.name} ${e.from === "kept" ? "from this browser" : "downloaded"}`; } }));
  return mnist;
}

/** The MNIST digits mixed in: the preset's, at most setup.class_mnist_limit, or fewer where the box
 * says (data-mnist-limit: the browser tests' short runs). */
function mnistCap() {
  const asked = Number(box.dataset.mnistLimit);
  return Number.isInteger(asked) && asked > 0 ? Math.min(asked, setup.class_mnist_limit) : setup.class_mnist_limit;
}

// ------------------------------------------------------------------ the run

const makeWorker = () => shared.makeWorker(setup.worker_scripts);
let curves = chart.createCurves();

function drawCharts(epochs) {
  $(".pt-charts").hidden = false;
  const titleOf = (key) => `${setup.titles[key.split(" ")[0]]} ${key.split(" ").slice(1).join(" ").replace("held-out", "· class held-out")}`;
  const titles = Object.fromEntries([...Object.keys(curves.loss), ...Object.keys(curves.acc)].map((k) => [k, titleOf(k)]));
  $(".pt-loss").innerHTML = chart.chartSvg(curves.loss, { title: "Loss (training smoothed)", epochs })
    + `<figcaption>${chart.legendHtml(curves.loss, titles)}</figcaption>`;
  $(".pt-acc").innerHTML = chart.chartSvg(curves.acc, { title: "Accuracy (%)", epochs, decimals: 0 })
    + `<figcaption>${chart.legendHtml(curves.acc, titles)} <span>(MNIST: every ${VALID_EVERY}th validation digit)</span></figcaption>`;
}

/** Where a model stands: on MNIST's validation subset and on the class's held-out drawings. */
function measure(model, params, drawings) {
  const scale = setup.recipe.pixel_scale, held = trainer.evaluate(model, params, drawings.held, scale);
  return { valid_acc: trainer.evaluate(model, params, mnist.valid, scale).acc, held_acc: held.acc, held_loss: held.loss };
}

/** One model fine-tuned from the shipped weights: its weights kept (finetune.py's rule) and figures.
 * `useWorkers`: in Web Workers where the browser has them, else on the page's own thread. */
async function fineTune(name, drawings, shippedBytes, useWorkers) {
  const shipped = weights.loadModel(name, shippedBytes, setup.shapes[name], setup.max_weights_bytes);
  const config = classes.classConfig(setup.training, { mnistCap: mnistCap(), finalRelu: shipped.finalRelu });
  const params = classes.copyParams(shipped.tensors), start = classes.copyParams(shipped.tensors);
  const model = net.createNet(name, { finalRelu: config.final_relu });
  const before = measure(model, params, drawings);
  const count = name === "cnn" ? trainer.workerCount({ cores: navigator.hardwareConcurrency, cap: setup.max_workers, spareOne: setup.serving_lan && shared.onServerMachine() }) : 1;
  const started = trainer.startWorkers(name, config.final_relu, count, useWorkers && typeof Worker === "function" ? makeWorker : null);
  box.dataset.workers = String(started.inWorkers ? started.workers.length : 0);
  say(started.inWorkers ? `Fine-tuning the ${setup.titles[name]} on the class's drawings, here, in ${started.workers.length} Web Worker${started.workers.length > 1 ? "s" : ""}.`
    : `Fine-tuning the ${setup.titles[name]} here, on the page itself: this browser has no Web Workers, so it is slower.`);
  chart.addEvent(curves, { kind: "epoch", model: name, epoch: -1, valid_loss: NaN, valid_acc: before.valid_acc, own_held_acc: before.held_acc });
  const checkpoints = [], modelStart = performance.now();
  let stepsDone = 0, atEpochEnd = true, heldBest = before.held_acc;
  try {
    for await (const ev of trainer.trainEpochs({ model: name, params, config, training: setup.training, data: mnist.train, valid: mnist.valid,
      workers: started.workers, scale: setup.recipe.pixel_scale, logEvery: name === "cnn" ? 5 : 20, own: drawings.train, ownHeld: drawings.held })) {
      if (!started.inWorkers) await new Promise((resolve) => setTimeout(resolve, 0)); // repaint, hear Stop
      chart.addEvent(curves, { ...ev, model: name });
      if (ev.kind === "step") {
        stepsDone = ev.epoch * ev.steps + ev.step;
        atEpochEnd = false;
        const eta = runs.etaSeconds({ stepsDone, totalSteps: config.epochs * ev.steps, elapsed: (performance.now() - modelStart) / 1000 });
        progressLine.textContent = `${setup.titles[name]} · epoch ${ev.epoch + 1}/${config.epochs} · step ${stepsDone.toLocaleString("en")}/${(config.epochs * ev.steps).toLocaleString("en")} · about ${runs.formatSeconds(eta)} left`;
      } else {
        atEpochEnd = true;
        heldBest = Math.max(heldBest, ev.own_held_acc);
        // The run measured MNIST and the held-out accuracy already; the loss breaks ties.
        const heldLoss = trainer.evaluate(model, params, drawings.held, setup.recipe.pixel_scale).loss;
        checkpoints.push({ valid_acc: ev.valid_acc, held_acc: ev.own_held_acc, held_loss: heldLoss, params: classes.copyParams(params) });
        drawCharts(config.epochs);
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
  if (stopAsked && stepsDone && !atEpochEnd) checkpoints.push({ ...measure(model, params, drawings), params: classes.copyParams(params) });
  drawCharts(config.epochs);
  const chosen = classes.chooseCheckpoint(before, checkpoints, setup.mnist_budget);
  const after = chosen || before;
  const notes = classes.classNotes({ before, after, heldBest, drawings: drawings.drawings, heldOut: drawings.held.count,
    validCount: mnist.valid.count, validEvery: VALID_EVERY });
  const meta = { model: name, final_relu: String(config.final_relu), preset: `${classes.PRESET}, on the class's drawings, trained in the teacher's page` };
  return { bytes: weights.toSafetensors(chosen ? chosen.params : start, setup.shapes[name], meta), notes };
}

async function run() {
  if (phase.busy()) return;
  const teacher = token();
  if (!teacher) { say("This page does not teach a class: open your teacher link again.", true); return; }
  stopAsked = false;
  startedAt = performance.now();
  phase.move("loading");
  timer = setInterval(() => { box.dataset.seconds = seconds().toFixed(1); }, 250);
  awake.ask();
  curves = chart.createCurves();
  showPublish(false); // the model kept before stays until this run has one
  $(".pt-verdict").textContent = "";
  $(".pt-charts").hidden = true;
  say("Getting the class's drawings…");
  let drawings, shipped;
  try {
    drawings = await classDrawings(teacher);
    say("Getting MNIST's digits (downloaded once; this browser keeps them)…");
    await mnistDigits();
    shipped = await shared.shippedWeights(props.shipped, setup.names); // where both fine-tunes start
  } catch (e) {
    end("failed");
    say(e instanceof classes.DrawingsError ? `⚠️ ${e.message}` : `Could not get the training digits or the shipped weights (${e.message}). Check the connection and try again, or reload the page.`, true);
    return;
  }
  if (stopAsked) { end("stopped"); say("Stopped before training began: nothing was trained."); return; }
  phase.move("running");
  const bytes = {}, notes = {};
  try {
    for (const name of setup.names) {
      if (stopAsked && Object.keys(bytes).length) break;
      let result;
      try {
        result = await fineTune(name, drawings, shipped[name], true);
      } catch (e) {
        if (!e.workersFailed) throw e;
        // Workers that could not run (a blocked Blob URL, a script error) before the first step:
        // the page's own thread trains instead, as the Train tab's does.
        result = await fineTune(name, drawings, shipped[name], false);
      }
      bytes[name] = result.bytes;
      notes[name] = result.notes;
    }
  } catch (e) {
    const memory = runs.outOfMemory(e);
    end("failed");
    say(memory ? `This device ran out of memory while training: nothing of this run was kept. ${setup.server_training ? "Try “The server”, or close other tabs." : "Close other tabs and try again."}`
      : `The training failed (${e.message}). Nothing of this run was kept.`, true);
    return;
  }
  trained = { bytes, notes };
  end(stopAsked ? "stopped" : "done");
  progressLine.textContent = `${Math.round(seconds())} s from the click`;
  say(`${stopAsked ? "Stopped: what was trained is kept. " : ""}Press “Give it to the class” to put it on every student's pad.`);
  $(".pt-verdict").textContent = classes.summary(setup.titles, notes, { validCount: mnist.valid.count, validEvery: VALID_EVERY });
}

function end(to) {
  clearInterval(timer);
  box.dataset.seconds = seconds().toFixed(1);
  phase.move(to);
  awake.release();
  showWhere(); // a model kept from before is offered again when this run ends without one
}

let publishing = false;
async function publish() {
  if (!trained || publishing) return;
  const teacher = token();
  publishing = true;
  say("Giving it to the class…");
  try {
    const reply = await fetch(shared.url(setup.class_model), { method: "POST", cache: "no-store",
      headers: { [setup.token_header]: teacher || "", "Content-Type": "application/json" },
      body: classes.uploadBody(trained.bytes, trained.notes, store.bytesToBase64) });
    const body = await reply.json().catch(() => null);
    if (!reply.ok) { say(`⚠️ ${classes.refusalSentence(reply.status, body)}`, true); return; }
    box.dataset.published = String(body.model_version);
    say(`✅ Given to the class. Every student's pad offers “our class’s model” within ${setup.student_seconds} seconds.`);
  } catch (e) {
    say(`⚠️ Could not reach the server (${e.message}): press “Give it to the class” again.`, true);
  } finally {
    publishing = false;
  }
}

// "Train on our class", Stop and "Give it to the class" are Gradio's buttons. With "This device"
// their clicks are answered here, before Gradio hears them (capture phase).
window.addEventListener("click", (event) => {
  if (where() !== DEVICE || !event.target.closest) return;
  const train = event.target.closest("#class-train"), stop = event.target.closest("#class-stop");
  const give = event.target.closest("#class-publish");
  if (!train && !(stop && phase.busy()) && !(give && trained && !phase.busy())) return;
  event.stopImmediatePropagation();
  event.preventDefault();
  if (train) run();
  else if (stop) { stopAsked = true; say("Stopping after this step: what was trained is kept…"); }
  else publish();
}, { capture: true });
document.addEventListener("change", (event) => { if (event.target.closest && event.target.closest("#class-train-where")) showWhere(); });
showWhere();
phase.ready("Press <b>Train on our class</b>: both models are fine-tuned here, on this device, from the shipped weights, on the class's drawings.");
