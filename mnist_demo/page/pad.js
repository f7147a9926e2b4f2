// The Draw tab's pad, run by gr.HTML as `js_on_load` with `element`, `props`, `trigger`,
// `server`, `upload` and `watch` given. A thin layer: strokes in, pixels to recipe.js, the
// digit to models.js (on weights read by weights.js), answers out to the cards. Nothing goes to
// the server while drawing; `props.value` holds the finished drawing's 28x28 for the events
// that need Python.
const { MnistRecipe: recipe, MnistWeights: weights, MnistModels: nets } = window;
const setup = props.setup; // recipe (recipe.json), shapes of each model's tensors, titles
const SIDE = setup.recipe.pad_side, PEN = setup.recipe.pen_width, NAMES = Object.keys(setup.titles);
const $ = (selector) => element.querySelector(selector);
const pad = $(".pad-canvas"), frame = $(".pad-frame"), status = $(".pad-status");
const undoButton = $(".pad-undo"), clearButton = $(".pad-clear"), fileInput = $(".pad-upload input");

// The models read a fixed SIDE x SIDE ink canvas (alpha = ink), whatever the screen; the visible
// canvas is drawn from the same strokes at the screen's resolution.
const ink = document.createElement("canvas");
ink.width = ink.height = SIDE;
const inkContext = ink.getContext("2d", { willReadFrequently: true });

let strokes = []; // each a list of [x, y] in ink-canvas pixels
let drawing = null; // {id, points} while a pointer is down
let picture = null; // {digit, url} after a picture was read by the server
let models = {}, modelProblem = null, digit = null, pending = 0, serverCall = 0;

// ------------------------------------------------------------------ the models' weights

function loadModels() {
  models = {};
  modelProblem = null;
  try {
    if (!weights || !nets) throw new Error("the page's model code did not load");
    for (const name of NAMES) models[name] = weights.loadModel(name, weights.base64ToBytes(props.models[name].safetensors), setup.shapes[name]);
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

function tracePath(context, points) {
  context.beginPath();
  context.moveTo(points[0][0], points[0][1]);
  if (points.length === 1) context.lineTo(points[0][0] + 0.01, points[0][1]); // a tap is a dot
  for (const [x, y] of points.slice(1)) context.lineTo(x, y);
  context.stroke();
}

function paint(context, scale, colour) {
  context.setTransform(1, 0, 0, 1, 0, 0);
  context.clearRect(0, 0, context.canvas.width, context.canvas.height);
  context.setTransform(scale, 0, 0, scale, 0, 0);
  Object.assign(context, { lineWidth: PEN, lineCap: "round", lineJoin: "round", strokeStyle: colour });
  for (const points of strokes) tracePath(context, points);
}

function paintAll() {
  const side = Math.round(pad.clientWidth * (window.devicePixelRatio || 1));
  if (side > 0 && pad.width !== side) pad.width = pad.height = side;
  paint(pad.getContext("2d"), pad.width / SIDE, getComputedStyle(pad).color);
  paint(inkContext, 1, "#000");
}

// ------------------------------------------------------------------ answers -> DOM

const percent = (p) => `${Math.round(100 * p)}%`;

function buildCard(name) {
  const card = $(`#card-${name}`);
  const bars = Array.from({ length: 10 }, (_, d) =>
    `<div class="bar"><span class="pct"></span><div class="fill"></div><span class="digit">${d}</span></div>`).join("");
  card.innerHTML = `<h3>${setup.titles[name]} <small class="source"></small></h3>
    <div class="answer"><span class="top"></span><span class="conf"></span></div>
    <div class="placeholder">Draw a digit</div><div class="bars">${bars}</div>
    <div class="fix">Wrong? It’s a <button type="button" data-keep></button> <button type="button" data-keep></button></div>`;
}

function showCard(name, out) {
  const card = $(`#card-${name}`);
  card.querySelector(".source").textContent = props.models[name].source === "shipped" ? "" : "· your weights";
  card.classList.toggle("empty", !out);
  if (!out) { // the page contract: data-model and data-label only while something is drawn
    card.removeAttribute("data-model");
    card.removeAttribute("data-label");
    card.removeAttribute("data-confidence");
    card.querySelector(".placeholder").textContent = modelProblem && digit ? "Asking the server…" : "Draw a digit";
    return;
  }
  const p = out.probabilities;
  const ranks = p.map((v, d) => [v, d]).sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, d]) => d);
  Object.assign(card.dataset, { model: name, label: String(out.label), confidence: p[out.label].toFixed(6) });
  card.querySelector(".top").textContent = out.label;
  card.querySelector(".conf").textContent = `${percent(p[out.label])} sure`;
  card.querySelectorAll(".bar").forEach((bar, d) => {
    const rank = ranks.indexOf(d) + 1;
    bar.className = `bar rank${rank}`;
    bar.title = `${d}: ${(100 * p[d]).toFixed(1)}%`;
    bar.querySelector(".pct").textContent = rank ? percent(p[d]) : "";
    bar.querySelector(".fill").style.height = `${Math.max(p[d], 0.01) * 80}%`;
  });
  card.querySelectorAll(".fix [data-keep]").forEach((button, k) => { // its next guesses, one tap to keep
    button.dataset.keep = button.textContent = String(ranks[k + 1]);
    button.title = `Keep this drawing as a ${ranks[k + 1]}`;
  });
}

function showVerdict(answers) {
  const box = $("#verdict");
  if (!answers) { box.className = "verdict"; box.innerHTML = ""; return; }
  const labels = NAMES.map((n) => answers[n].label);
  const agree = labels.every((l) => l === labels[0]);
  box.className = `verdict ${agree ? "agree" : "disagree"}`;
  box.innerHTML = agree ? `Both models read <b>${labels[0]}</b>.`
    : `⚠️ The models disagree: ${NAMES.map((n, i) => `${setup.titles[n]} says <b>${labels[i]}</b>`).join(", ")}.`;
}

function showPreview(x) {
  const preview = $("#preview").getContext("2d");
  const image = preview.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = x ? Math.min(255, Math.round(x[i] * 256)) : 0; // white ink on black, like MNIST
    image.data.set([v, v, v, 255], 4 * i);
  }
  preview.putImageData(image, 0, 0);
  $(".pad-preview").classList.toggle("empty", !x);
}

function show(answers) {
  for (const name of NAMES) showCard(name, answers && answers[name]);
  showVerdict(answers);
  showPreview(digit);
  const empty = !strokes.length && !picture;
  frame.classList.toggle("empty", empty);
  undoButton.disabled = !strokes.length;
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
    digit = strokes.length ? prepare() : picture && picture.digit;
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
    const chosen = Object.fromEntries(NAMES.map((n) => [n, props.models[n].source === "shipped" ? "shipped" : props.models[n].safetensors]));
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

function toPad(event) {
  const box = pad.getBoundingClientRect();
  return [((event.clientX - box.left) / box.width) * SIDE, ((event.clientY - box.top) / box.height) * SIDE];
}

function forgetPicture() {
  picture = null;
  frame.style.backgroundImage = "";
}

pad.addEventListener("pointerdown", (event) => {
  if (drawing || (event.pointerType === "mouse" && event.button !== 0)) return; // one pen at a time
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  if (picture) { forgetPicture(); strokes = []; }
  showModelStatus(); // a new drawing: "Kept as…" or a picture's note no longer applies
  drawing = { id: event.pointerId, points: [toPad(event)] };
  strokes.push(drawing.points);
  schedule();
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing || event.pointerId !== drawing.id) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const e of events.length ? events : [event]) drawing.points.push(toPad(e));
  schedule();
});

function endStroke(event) {
  if (!drawing || event.pointerId !== drawing.id) return;
  drawing = null;
  update(true);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
// A finger on the pad starts no browser gesture at all: no scrolling or zooming (touch-action
// covers most browsers), and no fling that would swallow the next tap on Clear or Undo.
for (const type of ["touchstart", "touchmove"]) pad.addEventListener(type, (event) => event.preventDefault(), { passive: false });

function undo() {
  if (drawing || !strokes.length) return;
  strokes.pop();
  update(true);
}

function clear() {
  if (drawing) return;
  strokes = [];
  forgetPicture();
  serverCall++;
  showModelStatus();
  update(true);
}

/** File the drawing under its true digit in the visitor's collection (Python keeps it, in the
 * session), then clear the pad for the next one. The digit travels with the event: props.value
 * is cleared at once. */
function keep(label) {
  if (drawing || !digit) return;
  trigger("keep", { label, digit: Array.from(digit) });
  clear();
  setStatus(`Kept as a ${label}. Draw the next one.`);
}

$(".keep-digits").innerHTML = Array.from({ length: 10 }, (_, d) =>
  `<button type="button" data-keep="${d}" title="Keep this drawing as a ${d}">${d}</button>`).join("");
element.addEventListener("click", (event) => {
  const button = event.target.closest("[data-keep]");
  if (button && element.contains(button) && button.dataset.keep !== "") keep(Number(button.dataset.keep));
});
undoButton.addEventListener("click", undo);
clearButton.addEventListener("click", clear);
element.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === "z") { event.preventDefault(); undo(); }
  if (event.key === "Escape") clear();
});
pad.tabIndex = 0; // focusable, so the keys above work after a click on the pad

async function readPicture(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) { setStatus(`${file.name} is not a picture.`, true); return; }
  const url = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
  strokes = [];
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

// ------------------------------------------------------------------ start

NAMES.forEach(buildCard);
loadModels();
watch("models", () => { // the visitor switched between shipped and their own weights
  loadModels();
  update(true);
});
new ResizeObserver(() => paintAll()).observe(pad);
// Gradio switches themes with a "dark" class (on the body or its app root): repaint the ink in the
// theme's colour when that happens.
const themeWatch = new MutationObserver(paintAll);
for (const node of [document.documentElement, document.body, element.closest(".gradio-container")]) {
  if (node) themeWatch.observe(node, { attributes: true, attributeFilter: ["class"] });
}
element.mnistPad = { strokes: () => strokes, digit: () => digit, ink: () => inkContext.getImageData(0, 0, SIDE, SIDE).data, models: () => models };
update(false);
