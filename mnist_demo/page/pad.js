// The Draw tab's pad, run by gr.HTML as `js_on_load` with `element`, `props`, `trigger`,
// `server`, `upload` and `watch` given. DOM wiring only: strokes.js keeps and paints the strokes,
// recipe.js turns the ink into the 28x28, models.js answers (on weights read by weights.js), and
// answers.js says what the cards show. Nothing goes to the server while drawing; `props.value`
// holds the finished drawing's 28x28 for the events that need Python.
const { MnistRecipe: recipe, MnistWeights: weights, MnistModels: nets, MnistStrokes: pen, MnistAnswers: say,
  MnistStore: store, MnistClassStore: classes, MnistClassLine: classLine } = window;
// Every value shared with Python comes from Python (page_assets.page_setup): the recipe
// (recipe.json), the models' names, titles and tensor shapes, the shipped weights' name, the
// weights' size limit.
const setup = props.setup;
const SIDE = setup.recipe.pad_side, PEN = setup.recipe.pen_width, NAMES = setup.names;
const FIELD = setup.recipe.field, SCALE = setup.recipe.pixel_scale;
const $ = (selector) => element.querySelector(selector);
const pad = $(".pad-canvas"), frame = $(".pad-frame"), status = $(".pad-status");
const undoButton = $(".pad-undo"), clearButton = $(".pad-clear"), fileInput = $(".pad-upload input");

// The models read a fixed SIDE x SIDE ink canvas (alpha = ink), whatever the screen; the visible
// canvas is drawn from the same strokes at the screen's resolution.
const ink = document.createElement("canvas");
ink.width = ink.height = SIDE;
const inkContext = ink.getContext("2d", { willReadFrequently: true });

const strokes = pen.createStrokes();
let picture = null; // {digit, url} after a picture was read by the server
let models = {}, modelProblem = null, digit = null, pending = 0, serverCall = 0;
let said = null; // each model's answer now shown, {name: digit}: a kept drawing carries it to a class

// ------------------------------------------------------------------ the models' weights

function loadModels() {
  models = {};
  modelProblem = null;
  try {
    if (!weights || !nets) throw new Error("the page's model code did not load");
    for (const name of NAMES) {
      const bytes = weights.base64ToBytes(props.models[name].safetensors);
      models[name] = weights.loadModel(name, bytes, setup.shapes[name], setup.max_weights_bytes);
    }
  } catch (e) {
    models = {};
    modelProblem = e.message || String(e);
  }
  showModelStatus();
}

/** The status line's standing message: empty, or why the server answers instead of the page. */
function showModelStatus() {
  setStatus(modelProblem ? `Could not run the models in this page (${modelProblem}). The server will answer instead (slower).` : "",
            !!modelProblem);
}

// ------------------------------------------------------------------ strokes -> canvases

function paintAll() {
  const side = Math.round(pad.clientWidth * (window.devicePixelRatio || 1));
  if (side > 0 && pad.width !== side) pad.width = pad.height = side;
  pen.paintStrokes(pad.getContext("2d"), strokes.list, { scale: pad.width / SIDE, colour: getComputedStyle(pad).color, pen: PEN });
  pen.paintStrokes(inkContext, strokes.list, { scale: 1, colour: "#000", pen: PEN });
}

// ------------------------------------------------------------------ answers -> DOM

// One card per model Python names, so a renamed or added model cannot drift from the page.
$(".cards").innerHTML = NAMES.map((name) => say.cardMarkup(name, setup.titles[name])).join("");
const cards = Object.fromEntries(NAMES.map((name) => [name, $(`#card-${name}`)]));

function showCard(name, out) {
  const card = cards[name];
  card.querySelector(".source").textContent = setup.source_notes[props.models[name].source] ?? "";
  card.classList.toggle("empty", !out);
  if (!out) { // the page contract: data-model and data-label only while something is drawn
    card.removeAttribute("data-model");
    card.removeAttribute("data-label");
    card.removeAttribute("data-confidence");
    card.querySelector(".placeholder").textContent = modelProblem && digit ? "Asking the server…" : "Draw a digit";
    return;
  }
  const view = say.cardView(out);
  Object.assign(card.dataset, { model: name, label: view.top, confidence: view.confidence });
  card.querySelector(".top").textContent = view.top;
  card.querySelector(".conf").textContent = view.sure;
  card.querySelectorAll(".bar").forEach((bar, d) => {
    const { rank, title, pct, height } = view.bars[d];
    bar.className = `bar rank${rank}`;
    bar.title = title;
    bar.querySelector(".pct").textContent = pct;
    bar.querySelector(".fill").style.height = height;
  });
  const articles = card.querySelectorAll(".fix-article");
  card.querySelectorAll(".fix [data-keep]").forEach((button, k) => {
    const fix = view.fixes[k];
    button.dataset.keep = button.textContent = fix.digit;
    button.title = fix.title;
    articles[k].textContent = fix.article;
  });
}

function showVerdict(answers) {
  const box = $("#verdict"), said = say.verdict(NAMES, setup.titles, answers);
  box.className = said ? `verdict ${said.agree ? "agree" : "disagree"}` : "verdict";
  box.innerHTML = said ? said.html : "";
}

const previewCanvas = $("#preview");
previewCanvas.width = previewCanvas.height = FIELD;
previewCanvas.setAttribute("aria-label", `The ${FIELD}x${FIELD} picture the models see`);
$(".pad-preview figcaption").textContent = `What the models see (${FIELD}×${FIELD})`;

function showPreview(x) {
  const preview = previewCanvas.getContext("2d");
  const image = preview.createImageData(FIELD, FIELD);
  for (let i = 0; i < FIELD * FIELD; i++) {
    const v = x ? Math.min(255, Math.round(x[i] * SCALE)) : 0; // white ink on black, like MNIST
    image.data.set([v, v, v, 255], 4 * i);
  }
  preview.putImageData(image, 0, 0);
  $(".pad-preview").classList.toggle("empty", !x);
}

function show(answers) {
  said = answers ? Object.fromEntries(NAMES.map((n) => [n, answers[n].label])) : null;
  for (const name of NAMES) showCard(name, answers && answers[name]);
  showVerdict(answers);
  showPreview(digit);
  const empty = !strokes.list.length && !picture;
  frame.classList.toggle("empty", empty);
  undoButton.disabled = !strokes.list.length;
  clearButton.disabled = empty;
  element.querySelectorAll(".keep-digits button").forEach((button) => { button.disabled = !digit; });
}

function setStatus(text, problem = false) {
  status.textContent = text;
  status.classList.toggle("problem", problem);
}

// ------------------------------------------------------------------ the loop

function prepare() {
  const pixels = inkContext.getImageData(0, 0, SIDE, SIDE).data;
  return recipe.inkToMnist(recipe.alphaOf(pixels), SIDE, SIDE, setup.recipe);
}

/** Redraw, re-read and re-answer; `final` at pointer-up and after every other change. */
function update(final) {
  cancelAnimationFrame(pending);
  pending = 0;
  paintAll();
  try {
    digit = strokes.list.length ? prepare() : picture && picture.digit;
  } catch (e) { // the page cannot prepare the drawing: the server can, from the ink itself
    digit = null;
    if (final) askServer({ image: ink.toDataURL("image/png") }, `Could not prepare the drawing in this page (${e.message})`);
    return;
  }
  if (digit && !modelProblem) {
    show(Object.fromEntries(NAMES.map((n) => [n, nets.predict(models[n], digit)])));
  } else {
    show(null);
    if (digit && final) askServer({ digit: Array.from(digit) }, `Could not run the models in this page (${modelProblem})`);
  }
  if (final) publish();
}

function schedule() {
  if (!pending) pending = requestAnimationFrame(() => update(false));
}

/** The finished drawing as 784 numbers for Python (Look inside, for example); null when blank.
 * Screen readers hear the final answer only, not every frame of the stroke. */
function publish() {
  props.value = digit ? Array.from(digit) : null;
  $(".pad-announce").textContent = $("#verdict").textContent;
}

/** The server's answers, when this page cannot compute them: slower, and it says so. */
async function askServer(payload, reason) {
  const call = ++serverCall;
  setStatus(`${reason}. Asking the server instead (slower).`, true);
  try {
    const chosen = Object.fromEntries(NAMES.map((n) => [n, props.models[n].source === setup.shipped ? setup.shipped : props.models[n].safetensors]));
    const reply = await server.read_digit({ ...payload, weights: chosen });
    if (call !== serverCall) return; // a newer drawing has taken over
    if (reply.error) throw new Error(reply.error);
    digit = reply.digit && Float32Array.from(reply.digit);
    show(reply.answers);
    publish();
  } catch (e) {
    if (call === serverCall) setStatus(`${reason}, and the server could not answer either: ${e.message || e}`, true);
  }
}

// ------------------------------------------------------------------ input

const toPad = (event, box = pad.getBoundingClientRect()) => pen.toInk(event.clientX, event.clientY, box, SIDE);

function forgetPicture() {
  picture = null;
  frame.style.backgroundImage = "";
}

pad.addEventListener("pointerdown", (event) => {
  if (strokes.drawing || (event.pointerType === "mouse" && event.button !== 0)) return; // one pen at a time
  event.preventDefault(); // no text selection or drag; but that also keeps focus where it was, so:
  pad.focus({ preventScroll: true }); // Esc and Ctrl+Z work right after drawing
  if (picture) { forgetPicture(); strokes.clear(); }
  showModelStatus(); // a new drawing: "Kept as…" or a picture's note no longer applies
  strokes.start(event.pointerId, toPad(event));
  schedule();
  // Capture keeps the stroke's moves coming when the pen leaves the pad. A browser may refuse it
  // (NotFoundError) when the pointer was already lifted by the time a busy page ran this handler:
  // a quick stroke on a slow phone. The stroke is kept all the same.
  try { pad.setPointerCapture(event.pointerId); } catch (e) { /* drawn without capture */ }
});

pad.addEventListener("pointermove", (event) => {
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  const box = pad.getBoundingClientRect();
  if (strokes.extend(event.pointerId, (events.length ? events : [event]).map((e) => toPad(e, box)))) schedule();
});

function endStroke(event) {
  if (strokes.end(event.pointerId)) update(true);
}
// On the window, not the pad: a stroke drawn without capture (above) may end off the pad.
window.addEventListener("pointerup", endStroke);
window.addEventListener("pointercancel", endStroke);
// A finger on the pad starts no browser gesture at all: no scrolling or zooming (touch-action
// covers most browsers), and no fling that would swallow the next tap on Clear or Undo.
for (const type of ["touchstart", "touchmove"]) pad.addEventListener(type, (event) => event.preventDefault(), { passive: false });

function undo() {
  if (strokes.undo()) update(true);
}

function clear() {
  if (!strokes.clear()) return; // not while a pen is down
  forgetPicture();
  serverCall++;
  showModelStatus();
  update(true);
}

// ------------------------------------------------------------------ keeping, in this browser

// The visitor's digits and trained weights live in this browser (store.js): a reload or a server
// restart loses nothing, and the server holds them only while this page is open.
const kept = store.createStore(store.browserStorage(window));
$(".pad-storage").textContent = kept.available()
  ? "Your digits and trained weights are kept in this browser only (in a class, a digit you keep also goes to the class, without your name). Delete all (Your digits tab) removes the digits; clearing this site's data removes everything."
  : "This browser keeps nothing for this page (private browsing, or the app shown inside another site): your digits last until you close this tab.";
if (window.self !== window.top) { // inside another site's page (a Space on the Hub): its storage is partitioned
  const own = document.createElement("a");
  Object.assign(own, { href: window.location.href, target: "_blank", rel: "noopener", textContent: "Open the app at its own address" });
  $(".pad-storage").append(" ", own, " to be sure your digits are kept (Safari forgets what an embedded page stores).");
}

/** File the drawing under its true digit: in this browser first (it survives a reload), then in
 * the server's session, which the Your digits tab, the test and fine-tuning read; in a class, into
 * the outbox too, which sends it to the class until the class acknowledges it. The id is made
 * here, so a repeated event is still one digit. */
function keep(label) {
  if (strokes.drawing || !digit) return;
  const entry = { id: store.newId(), label, pixels: store.bytesToBase64(store.digitBytes(digit, SCALE)) };
  const saved = kept.add([entry]);
  const seat = classes.studentOf(classes.readSeat(local));
  const queued = !seat || outbox.add({ kind: "keep", ...entry, said, ...seat }); // the answers seen go to the wall
  trigger("keep", entry);
  clear();
  const problem = [saved.ok ? "" : saved.problem,
    queued ? "" : "Too many drawings are waiting to reach the class: this one stays in your digits only."].join(" ").trim();
  setStatus(`${say.keptMessage(label)} ${problem}`.trim(), !!problem);
  if (seat) { drawLine(); sendToClass(); }
}

$(".keep-digits").innerHTML = Array.from({ length: 10 }, (_, d) =>
  `<button type="button" data-keep="${d}" title="${say.keepTitle(d)}">${d}</button>`).join("");
element.addEventListener("click", (event) => {
  const button = event.target.closest("[data-keep]");
  if (button && element.contains(button) && button.dataset.keep !== "") keep(Number(button.dataset.keep));
});
undoButton.addEventListener("click", undo);
clearButton.addEventListener("click", clear);
// Keys pressed with the focus anywhere in the pad: on its canvas (focused by drawing) or a button.
element.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && !event.shiftKey) { event.preventDefault(); undo(); }
  if (event.key === "Escape") clear();
});
pad.tabIndex = 0; // focusable: by Tab, and by pointerdown above

async function readPicture(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) { setStatus(`${file.name} is not a picture.`, true); return; }
  const url = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
  if (!strokes.clear()) return; // a pen is down: the drawing wins
  picture = { digit: null, url };
  frame.style.backgroundImage = `url("${url}")`;
  setStatus("Reading the picture…");
  const reply = await server.read_digit({ image: url, weights: null }).catch((e) => ({ error: e.message || String(e) }));
  if (!picture || picture.url !== url) return; // drawn over or cleared meanwhile
  if (reply.error) { forgetPicture(); setStatus(reply.error, true); update(true); return; }
  picture.digit = Float32Array.from(reply.digit);
  setStatus(`Read from ${file.name} by the server; the models ran in this page.`);
  update(true);
}
fileInput.addEventListener("change", () => { readPicture(fileInput.files[0]); fileInput.value = ""; });
frame.addEventListener("dragover", (event) => event.preventDefault());
frame.addEventListener("drop", (event) => { event.preventDefault(); readPicture(event.dataTransfer.files[0]); });

// ------------------------------------------------------------------ the class: its line and the outbox

// Drawn here from the stored seat (written by class_seat.js as the server says) and the outbox,
// so it is right while the server is down. A kept drawing counts as sent only once the class
// answered "stored" (or "stored before"); until then the line says it is waiting.
const local = store.browserStorage(window);
const outbox = classes.sharedOutbox(local);
const line = $("#class-line"), lineText = $(".class-line-text"), lineButton = $(".class-line-action");
let trouble = null, tries = 0, sending = false, retry = 0;

const usingClassModel = () => NAMES.some((n) => props.models[n].source === setup.class_model);

function drawLine() {
  const seat = classes.readSeat(local);
  const view = classLine.lineView({ seat, pending: outbox.pending(classes.studentOf(seat)), trouble,
                                    online: navigator.onLine !== false, using: usingClassModel() });
  line.hidden = !view.visible;
  if (view.state) line.dataset.state = view.state; else delete line.dataset.state;
  line.dataset.pending = String(view.pending);
  lineText.textContent = view.text;
  lineButton.hidden = !view.action;
  if (view.action) Object.assign(lineButton, { textContent: view.action.label }).dataset.kind = view.action.kind;
}

function timeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), ms))]);
}

/** What a final refusal means for the seat that sent `entry`: taken out or ended, nothing more
 * goes from it (its other waiting drawings are dropped, and the line says why, if it is still this
 * browser's seat); a student who had left hears that what was waiting did not reach the class. */
function refused(entry, next) {
  const seat = classes.readSeat(local), current = classes.studentOf(seat);
  const isCurrent = current && current.code === entry.code && current.student === entry.student;
  if (next.state === "removed" || next.state === "ended") {
    const dropped = outbox.drop(entry.code, next.state === "ended" ? null : entry.student) + (entry.kind === "keep" ? 1 : 0);
    if (isCurrent) {
      classes.updateSeat(local, entry, { state: next.state, student: null });
      trigger("class_changed", {}); // the Class tab says so too, now rather than at its next tick
    } else if (dropped) {
      setStatus(`${dropped} drawing${dropped === 1 ? "" : "s"} kept before you left class ${classLine.spaced(entry.code)} did not reach it; they are still in your digits.`, true);
    }
  } else if (next.note && entry.kind === "keep") {
    setStatus(next.note, true);
  }
}

/** Send the outbox, oldest first, one entry at a time; after an outage or "slow down", try again
 * later: at the backed-off time, or sooner when the browser says it is back online (`now`).
 * One tab of this browser sends at a time (a Web Lock named after the outbox): the tabs share the
 * outbox, and two sending it at once (both back online after an outage) would send each drawing
 * twice. A tab that finds another sending looks again a second later rather than queue behind it:
 * each tab reads localStorage from its own copy, which hears of the other tab's writes a moment
 * late, so a tab handed the lock the instant it was freed is the likeliest to see the last drawing
 * as still waiting. This makes a repeat rarer, not impossible; one is harmless: the class answers
 * "stored before" for an id it has, and `outbox.sent` counts it once. */
async function sendToClass(now = false) {
  if (sending || (retry && !now)) return;
  sending = true;
  clearTimeout(retry);
  retry = 0;
  try {
    if (!navigator.locks) await sendEach();
    else await navigator.locks.request(classes.OUTBOX_KEY, { ifAvailable: true }, (lock) => lock ? sendEach() : later(ANOTHER_TAB_MS));
  } finally {
    sending = false;
    drawLine();
  }
}

const ANOTHER_TAB_MS = 1000; // how soon a tab looks again while another tab of this browser sends

function later(ms) {
  retry = setTimeout(() => { retry = 0; sendToClass(); }, ms);
}

async function sendEach() {
  for (let entry = outbox.entries()[0]; entry; entry = outbox.entries()[0]) {
    drawLine();
    const reply = await timeout(server.send_to_class(entry), 20000).catch(() => null);
    const next = classLine.verdict(reply, navigator.onLine !== false);
    if (next.action === "retry") {
      trouble = next.trouble;
      later(classLine.backoff(tries++));
      return;
    }
    trouble = null;
    tries = 0;
    if (next.action === "done") {
      if (outbox.sent(entry) && entry.kind === "keep") { // (not when another tab's answer came first)
        const seat = classes.readSeat(local);
        classes.updateSeat(local, entry, { sent: ((seat && seat.sent) || 0) + 1 });
      }
    } else {
      outbox.done(entry);
      refused(entry, next);
    }
  }
}

lineButton.addEventListener("click", () => {
  const kind = lineButton.dataset.kind, seat = classes.readSeat(local);
  if (kind === "forget") {
    classes.saveSeat(local, null);
    drawLine();
    trigger("forget_class", {});
  } else {
    trigger("use_class", { use: kind === "use", seat });
  }
});
window.addEventListener("online", () => { tries = 0; sendToClass(true); });
window.addEventListener("offline", () => drawLine());
window.addEventListener("mnist-class", () => { drawLine(); sendToClass(); }); // the seat or the outbox changed
// Another tab of this browser changed the seat or the outbox they share (it kept, or its send was
// answered): this tab's line says the same. The other tab sends its own keeps.
window.addEventListener("storage", (event) => {
  if (event.key === null || event.key === classes.SEAT_KEY || event.key.startsWith(classes.OUTBOX_KEY)) drawLine();
});

// ------------------------------------------------------------------ a restarted server

// The server holds this page's digits and weights only in memory, for this page's session, and a
// restarted server starts that session empty. Gradio reloads the page only when one of its own
// requests failed meanwhile, so a page left alone through a restart would show an empty Your digits
// and fine-tune without them. The page asks which server it talks to (Gradio's app id, new at each
// start) when it is used or shown, and every 10 s while in view, and gives a new one its copy back.
// A digit sent twice is kept once, so a restore racing a keep is harmless.
const gradio = window.gradio_config || {};
const idURL = `${String(gradio.root || window.location.origin).replace(/\/$/, "")}${gradio.api_prefix || "/gradio_api"}/app_id`;
let serverId = gradio.app_id, checking = false, checked = 0;

function restore(drawn = false) {
  if (!drawn && !kept.digits.length && !Object.keys(kept.weights).length) return;
  const gallery = document.querySelector("#my-digits");
  // The gallery comes back drawn only when its tab is in view (else it is drawn when shown).
  trigger("restore", { digits: kept.digits, weights: kept.weights, gone: kept.gone,
    gallery: drawn || Boolean(gallery && gallery.offsetParent) });
}

// While this page trains a model itself (the Train tab's or the teacher's "This device" run), the
// server is not asked anything, this check included: the run's result is given back after it.
const trainingHere = () => document.querySelector('.page-trainer[data-state="loading"], .page-trainer[data-state="running"]') !== null;

async function checkServer() {
  if (checking || Date.now() - checked < 2000 || trainingHere()) return;
  checking = true;
  try {
    const reply = await timeout(fetch(idURL, { cache: "no-store" }), 5000);
    const id = reply.ok ? (await reply.json()).app_id : undefined;
    if (id !== undefined && serverId !== undefined && id !== serverId) restore();
    if (id !== undefined) serverId = id;
    checked = Date.now();
  } catch (e) { // down, or on its way back: the next check will see
  } finally {
    checking = false;
  }
}
document.addEventListener("pointerdown", () => checkServer(), { capture: true, passive: true });
document.addEventListener("visibilitychange", () => { if (!document.hidden) checkServer(); });
window.addEventListener("online", () => checkServer());
setInterval(() => { if (!document.hidden) checkServer(); }, 10000);
// Gradio's own "connection lost" toast sits at the foot of a phone's screen, over the second row
// of Keep buttons, just when a student keeps through a blip. The page goes on without the server
// (answers; keeps waiting to be sent) and the class line says so: on a narrow screen the toast is
// not shown. It is found by its words (Gradio gives it no class of its own), and hidden here, not
// in app.css, whose rules Gradio scopes to the app's container, which the toasts are outside of.
// Only the nodes each mutation adds are looked at: the answer cards change on every stroke.
const narrow = window.matchMedia("(max-width: 640px)");
new MutationObserver((mutations) => {
  if (!narrow.matches) return;
  for (const { addedNodes } of mutations) {
    for (const node of addedNodes) {
      if (node.nodeType !== 1 || !/connection to the server was lost/i.test(node.textContent)) continue;
      const toast = node.closest(".toast-item") || node.querySelector(".toast-item");
      if (toast) toast.style.display = "none";
    }
  }
}).observe(document.body, { childList: true, subtree: true });
// Your digits drew fewer digits than this browser keeps: the session was filled after the gallery
// was drawn (a tab opened while the restore was on its way). Restore again, gallery and all.
window.addEventListener("mnist-restore", () => restore(true));

// ------------------------------------------------------------------ start

loadModels();
restore();
watch("trained", () => { // a training finished: its weights are kept in this browser too
  if (props.trained) kept.setWeights(props.trained);
});
// The Train tab trained in this page (page_trainer.js), which kept the weights in this browser:
// the pad answers with them at once, and the server's session hears of them now (restore), which
// sets the weights choices to "my trained weights".
window.addEventListener("mnist-page-trained", (event) => {
  const trained = event.detail.weights;
  props.models = { ...props.models, ...Object.fromEntries(Object.entries(trained).map(([n, b64]) => [n, { source: setup.mine, safetensors: b64 }])) };
  loadModels();
  update(true);
  restore();
});
watch("models", () => { // the visitor switched between shipped, their own or their class's weights
  loadModels();
  update(true);
  const seat = classes.readSeat(local); // a class member's choice is kept for a reload
  if (seat && seat.state === "joined") {
    classes.updateSeat(local, seat, { chosen: NAMES.filter((n) => props.models[n].source === setup.class_model) });
  }
  drawLine();
});
new ResizeObserver(() => paintAll()).observe(pad);
// Gradio switches themes with a "dark" class (on the body or its app root): repaint the ink in the
// theme's colour when that happens.
const themeWatch = new MutationObserver(paintAll);
for (const node of [document.documentElement, document.body, element.closest(".gradio-container")]) {
  if (node) themeWatch.observe(node, { attributes: true, attributeFilter: ["class"] });
}
// Read-only views for the browser tests (benchmarks/harness/pad.py): the ink canvas and the loaded
// models are not in the DOM, and the 28x28 is compared with Python to float precision.
element.mnistPad = { strokes: () => strokes.list, digit: () => digit, ink: () => inkContext.getImageData(0, 0, SIDE, SIDE).data, models: () => models };
update(false);
drawLine();
sendToClass(); // what a reload, an outage or a closed tab left waiting
