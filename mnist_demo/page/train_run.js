/* What the page says about its own training run: its state (the contract's data-state), the time
 * left, the closing sentence (as ui_train.py's verdict), whether the new weights replace the kept
 * ones (never a better model), the metadata the weights file carries, and the confusion matrix and
 * most confident mistakes on the page's validation digits. Pure: `MnistTrainRun` in the browser,
 * `require` under Node; page_trainer.js wires it to the DOM.
 */
(function (root, factory) {
  const deps = typeof module === "object" && module.exports ? [require("./train.js")] : [root.MnistTrain];
  const api = factory(...deps);
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistTrainRun = api;
})(typeof self !== "undefined" ? self : this, function (train) {
  "use strict";

  // ------------------------------------------------------------------ the run's state
  // idle -> loading (the data) -> running -> done | stopped | failed; any end -> loading (Start
  // again); loading -> failed (a download that failed) or stopped.
  const MOVES = {
    idle: ["loading", "failed"],
    loading: ["running", "failed", "stopped"],
    running: ["done", "stopped", "failed"],
    done: ["loading", "failed"],
    stopped: ["loading", "failed"],
    failed: ["loading", "failed"],
  };
  const STATES = Object.keys(MOVES);

  /** The state after `to` is asked for in `from`; an error when the contract does not allow it. */
  function move(from, to) {
    if (!MOVES[from] || !MOVES[from].includes(to)) throw new Error(`a run cannot go from ${from} to ${to}`);
    return to;
  }
  const busy = (state) => state === "loading" || state === "running";

  // ------------------------------------------------------------------ the controls' values

  /** What the controls say, held within each setting's bounds (presets.json's, which
   * TrainConfig's check_config holds the server to): numbers clamped to [low, high], whole where
   * the setting steps in whole numbers (epochs, digits, batch, seed), choices only among the
   * setting's; a value that is not a number is left out (the preset's stands). */
  function checkedChanges(settings, changes) {
    const out = {};
    for (const [key, value] of Object.entries(changes)) {
      const rule = settings[key];
      if (!rule || value === undefined || value === null || value === "") continue;
      if (rule.choices) { if (rule.choices.includes(value)) out[key] = value; continue; }
      if (typeof rule.default === "boolean") { out[key] = value === true; continue; }
      const v = Number(value);
      if (!Number.isFinite(v)) continue;
      const whole = Number.isInteger(rule.step) || Number.isInteger(rule.default) || key === "seed" || key === "limit";
      out[key] = Math.min(rule.high, Math.max(rule.low, whole ? Math.round(v) : v));
    }
    return out;
  }

  // ------------------------------------------------------------------ time left

  /** Seconds left of the model training now: the time its steps done took, for its steps still
   * to do (null before any step, when nothing is known yet). Each epoch's measuring is inside
   * `elapsed`, so it is counted at its share. */
  function etaSeconds({ stepsDone, totalSteps, elapsed }) {
    if (!(stepsDone > 0) || !(elapsed > 0)) return null;
    return Math.max(0, (elapsed / stepsDone) * (totalSteps - stepsDone));
  }

  function formatSeconds(s) {
    if (s === null || !Number.isFinite(s)) return "…";
    if (s < 60) return `${Math.round(s)} s`;
    return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  }

  // ------------------------------------------------------------------ keep or not

  /** Whether a run's model (its accuracy `now`) becomes "my trained weights", given the one kept
   * (its recorded accuracy, or null when none): a stopped or worse run never replaces a better one. */
  function replaces(now, kept) {
    return kept === null || kept === undefined || !Number.isFinite(kept) || now >= kept;
  }

  /** The weights file's metadata, with training.py's run_metadata keys where the page has them. */
  function metadataFor({ model, finalRelu, preset, config, trainCount, validCount, validEvery, last, seconds, startedFrom, own, held }) {
    const meta = {
      model, final_relu: String(finalRelu), preset: `${preset}, trained in the page`, config: JSON.stringify(config),
      split: `train ${trainCount} of 50000 / valid ${validCount} (every ${validEvery}th of the 20000; tutorial split, pixels/256)`,
      data_source: "MNIST IDX files (the same rows as openml:mnist_784)",
    };
    if (startedFrom) meta.started_from = startedFrom; // null for new weights
    if (own) meta.own_digits = `${own} kept digits (augmented); ${held} held out`;
    if (last) {
      meta.valid_loss = last.valid_loss.toFixed(6);
      meta.valid_acc = last.valid_acc.toFixed(6);
      meta.epochs_done = String(last.epoch + 1);
      if (last.own_held_acc !== null && last.own_held_acc !== undefined) meta.own_held_out_acc = last.own_held_acc.toFixed(6);
    }
    meta.train_seconds = seconds.toFixed(1);
    return meta;
  }

  // ------------------------------------------------------------------ the closing sentence

  const pct = (v, digits = 2) => `${(100 * v).toFixed(digits)} %`;

  /** Whether `error` is running out of memory: a RangeError, or the browser's words for it (a
   * worker's error reaches the page as a plain Error carrying "RangeError: Array buffer allocation failed"). */
  function outOfMemory(error) {
    return error instanceof RangeError || /memory|allocation|RangeError/i.test(String((error && error.message) || error));
  }

  /** What a run that failed says: out of memory (outOfMemory) or anything else; `finished`, the
   * titles of the models that ended before the failure, count as a finished run's. */
  function failureSentence(error, finished = []) {
    const message = String((error && error.message) || error);
    const memory = outOfMemory(error);
    const kept = finished.length ? ` The ${finished.join(" and ")} finished before it, and ${finished.length > 1 ? "count" : "counts"} as a finished run does;`
      : " Nothing of this run was kept;";
    return (memory ? "This device ran out of memory while training." : `The training failed (${message}).`) + kept
      + " your earlier weights stay as they were otherwise." + (memory ? " Try fewer digits, or the linear model alone." : "");
  }

  /** As ui_train.py's verdict: how it ended, each model's accuracy (and on the held-out digits),
   * and what became "my trained weights". `results`: [{title, last, kept (earlier accuracy when
   * the earlier model stays), before}], `measured`: which validation digits. */
  function verdict({ stopped, seconds, results, measured, target }) {
    let text = `${stopped ? "Stopped" : "Finished"} after ${Math.round(seconds)} s on this device`;
    for (const r of results) {
      if (!r.last) { text += `. ${r.title}: stopped before its first epoch ended, nothing kept`; continue; }
      text += `. ${r.title}: ${pct(r.last.valid_acc)} on ${measured}`;
      if (r.before !== null && r.before !== undefined) text += ` (it started at ${pct(r.before)})`;
      if (target) text += r.last.valid_acc >= target ? `, the ${pct(target, 1)} target reached` : `, the ${pct(target, 1)} target not reached`;
      if (r.last.own_held_acc !== null && r.last.own_held_acc !== undefined) text += `, your held-out digits ${pct(r.last.own_held_acc, 0)}`;
      if (r.kept !== null && r.kept !== undefined) text += `; your earlier ${pct(r.kept)} weights stay your “my trained weights” (this run's are in the download)`;
    }
    const anyNew = results.some((r) => r.last && (r.kept === null || r.kept === undefined));
    return text + (anyNew ? ". The pad answers with your new weights now; download them below." : ".");
  }

  /** The fine-tune on your own digits: which epoch it kept, or that the start stayed (finetune.py's
   * sentence, for the page's choice among its epochs). `choice`: {epoch (-1: the start), tried,
   * held_before, held_after, valid_before, valid_after} (accuracies as fractions). */
  function choiceSentence(choice) {
    const tried = `${choice.tried} epoch${choice.tried === 1 ? "" : "s"}`;
    if (choice.epoch < 0) {
      return `the fine-tune tried ${tried}, but none kept MNIST validation within 1 point of the start (${pct(choice.valid_before)}) `
        + "while helping your held-out digits: the starting weights are returned unchanged.";
    }
    return `the fine-tune kept epoch ${choice.epoch + 1} of ${tried}: your held-out digits ${pct(choice.held_before, 0)} → `
      + `${pct(choice.held_after, 0)}, MNIST validation ${pct(choice.valid_before)} → ${pct(choice.valid_after)} (within a point).`;
  }

  // ------------------------------------------------------------------ the visitor's own digits

  /** The visitor's kept digits ({label, pixels: base64 of 784 bytes}, store.js's) as the trainer
   * takes them: {own, held}, each {x, y, count}; `held` is one in `every` of each label
   * (collection.py's rule, trainer.heldOut: about a quarter). `decode`: base64 to bytes. */
  function ownSets(digits, every, heldOut, decode) {
    const out = heldOut(digits.map((d) => d.label), every);
    const pack = (rows) => {
      const x = new Uint8Array(rows.length * train.PIXELS), y = new Uint8Array(rows.length);
      rows.forEach((d, k) => { x.set(decode(d.pixels).subarray(0, train.PIXELS), k * train.PIXELS); y[k] = d.label; });
      return { x, y, count: rows.length };
    };
    return { own: pack(digits.filter((_, i) => !out[i])), held: pack(digits.filter((_, i) => out[i])) };
  }

  // ------------------------------------------------------------------ results on the validation digits

  /** Each digit's answer and confidence: {pred: Uint8Array, conf: Float32Array}. */
  function predictAll(net, params, digits, scale) {
    const one = new Float32Array(train.PIXELS), pred = new Uint8Array(digits.count), conf = new Float32Array(digits.count);
    for (let s = 0; s < digits.count; s++) {
      for (let i = 0; i < train.PIXELS; i++) one[i] = digits.x[s * train.PIXELS + i] / scale;
      const logits = train.logitsOf(net, params, one, 0);
      let best = 0, max = -Infinity, sum = 0;
      for (let k = 0; k < train.CLASSES; k++) max = Math.max(max, logits[k]);
      for (let k = 0; k < train.CLASSES; k++) { sum += Math.exp(logits[k] - max); if (logits[k] > logits[best]) best = k; }
      pred[s] = best;
      conf[s] = 1 / sum; // the top class's softmax probability
    }
    return { pred, conf };
  }

  /** The 10x10 counts, rows the true digit, columns the answer. */
  function confusion(labels, pred) {
    const m = Array.from({ length: 10 }, () => new Array(10).fill(0));
    for (let i = 0; i < labels.length; i++) m[labels[i]][pred[i]] += 1;
    return m;
  }

  /** The `count` wrong answers given with the most confidence: [{index, label, pred, conf}]. */
  function worstMistakes(labels, pred, conf, count = 12) {
    const wrong = [];
    for (let i = 0; i < labels.length; i++) if (pred[i] !== labels[i]) wrong.push({ index: i, label: labels[i], pred: pred[i], conf: conf[i] });
    return wrong.sort((a, b) => b.conf - a.conf || a.index - b.index).slice(0, count);
  }

  return { STATES, MOVES, move, busy, checkedChanges, etaSeconds, formatSeconds, replaces, metadataFor, outOfMemory, failureSentence, verdict, choiceSentence, ownSets, predictAll, confusion, worstMistakes };
});
