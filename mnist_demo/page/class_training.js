/* The class's own model, trained in the teacher's page: the pure parts. The class's drawings as the
 * server sends them (classes/page_routes.py), the fine-tune's recipe capped for a teacher's laptop,
 * which epoch's weights to keep (the server's rule, finetune.py: the best on the class's held-out
 * drawings among those that lose at most a point on MNIST, else the starting weights), the notes
 * the wall shows, the upload, and the sentences. class_trainer.js wires them to the Class tab.
 *
 * Pure functions: `MnistClassTraining` in the browser, `require` under Node.
 */
(function (root, factory) {
  const deps = typeof module === "object" && module.exports ? [require("./trainer.js")] : [root.MnistTrainer];
  const api = factory(...deps);
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistClassTraining = api;
})(typeof self !== "undefined" ? self : this, function (trainer) {
  "use strict";

  const PIXELS = 784;
  const PRESET = "fine-tune"; // the server's class training uses it too (classes/training.py)

  class DrawingsError extends Error {}

  /** One part of the route's answer ({count, labels, pixels: base64}) as digits kept as bytes
   * ({x: Uint8Array of count * 784, y: Uint8Array, count}), as trainer.js takes them. */
  function decodePart(part, base64ToBytes, what) {
    if (!part || !Number.isInteger(part.count) || part.count < 0 || !Array.isArray(part.labels)
      || part.labels.length !== part.count || typeof part.pixels !== "string") {
      throw new DrawingsError(`the server's answer has no ${what} drawings`);
    }
    const x = base64ToBytes(part.pixels);
    if (x.length !== part.count * PIXELS) throw new DrawingsError(`the ${what} drawings are not ${part.count} of 28×28 pixels`);
    if (!part.labels.every((v) => Number.isInteger(v) && v >= 0 && v <= 9)) throw new DrawingsError(`a ${what} drawing's label is not a digit`);
    return { x, y: Uint8Array.from(part.labels), count: part.count };
  }

  /** GET /class-page/drawings's answer as {train, held, drawings}: the part to fine-tune on and
   * the held-out quarter, split by the server exactly as its own training splits them. */
  function decodeDrawings(body, base64ToBytes) {
    if (!body || typeof body !== "object") throw new DrawingsError("the server's answer is not the class's drawings");
    const train = decodePart(body.train, base64ToBytes, "training"), held = decodePart(body.held, base64ToBytes, "held-out");
    return { train, held, drawings: train.count + held.count };
  }

  /** The fine-tune preset (presets.json, as the server's class training reads it), on at most
   * `mnistCap` MNIST digits: a teacher's laptop, which may also be serving the class, trains it in
   * seconds. `finalRelu`: the starting weights' (the shipped CNN's). */
  function classConfig(training, { mnistCap, finalRelu }) {
    const config = trainer.presetConfig(training, PRESET);
    const cap = Number.isInteger(mnistCap) && mnistCap > 0 ? mnistCap : Infinity;
    config.limit = Math.min(config.limit === null ? Infinity : config.limit, cap);
    if (config.limit === Infinity) config.limit = null;
    config.final_relu = finalRelu;
    config.target_acc = null;
    return config;
  }



  /** One model's notes, as the wall and the teacher's summary read them (the server's training
   * writes the same keys): accuracies as fractions, counts as whole numbers. `validCount` and
   * `validEvery` say which MNIST digits measured it (every 10th validation digit: 2,000). */
  function classNotes({ before, after, heldBest, drawings, heldOut, validCount, validEvery }) {
    const notes = { held_before: before.held_acc, held_after: after.held_acc, valid_before: before.valid_acc,
      valid_after: after.valid_acc, valid_acc: after.valid_acc, class_drawings: drawings, class_held_out: heldOut,
      valid_count: validCount, valid_every: validEvery };
    if (Number.isFinite(heldBest)) notes.held_best = heldBest;
    return notes;
  }

  const pct = (v) => `${(100 * v).toFixed(1)}%`;

  /** The figures in words, as the server's class_model_summary says them. */
  function summary(titles, notesByName, { validCount, validEvery }) {
    return Object.entries(notesByName).map(([name, n]) => {
      const drawings = n.class_held_out === 1 ? "drawing" : "drawings";
      let text = `${titles[name]}: ${pct(n.held_before)} → ${pct(n.held_after)} on the class's ${n.class_held_out.toLocaleString("en")} held-out ${drawings}, `
        + `MNIST ${pct(n.valid_before)} → ${pct(n.valid_after)} (every ${validEvery}th validation digit, ${validCount.toLocaleString("en")})`;
      if (n.class_held_out < 20) text += " (too few held-out drawings to say much: keep more, a few of each digit, and train again)";
      if (Number.isFinite(n.held_best) && n.held_best >= n.held_after + 0.0005) {
        text += ` (its curve reached ${pct(n.held_best)}, but those weights cost MNIST more than a point, so the ones kept are these)`;
      }
      return `${text}.`;
    }).join(" ");
  }

  /** POST /class-page/model's body: each model's safetensors bytes in base64, and its notes. */
  function uploadBody(bytesByName, notesByName, bytesToBase64) {
    const models = {};
    for (const [name, bytes] of Object.entries(bytesByName)) models[name] = bytesToBase64(bytes);
    return JSON.stringify({ models, notes: notesByName });
  }

  /** What to tell the teacher when a route refused: its own sentence where it sent one. */
  function refusalSentence(status, body) {
    if (body && typeof body.error === "string" && body.error) return body.error;
    if (status === 403) return "This class has ended, or its teacher link was replaced: open the current one.";
    if (status === 413) return "The model is too large to give to the class.";
    if (status === 429) return "Too many requests for this class: try again in a minute.";
    return `The server answered ${status}: try again.`;
  }

  /** The teacher token from the page's seat echo (#class-seat-echo: tab.seat_echo's JSON), or null. */
  function teacherToken(echo) {
    try {
      const seat = JSON.parse(echo);
      return seat && typeof seat.teacher === "string" && seat.teacher ? seat.teacher : null;
    } catch (e) {
      return null;
    }
  }

  /** A copy of a model's parameters: an epoch's checkpoint, kept while training goes on. */
  // chooseCheckpoint and copyParams are trainer.js's: the Train tab's fine-tune on your own digits
  // chooses its weights by the same rule.
  return { PRESET, DrawingsError, decodeDrawings, classConfig, chooseCheckpoint: trainer.chooseCheckpoint, classNotes,
    summary, uploadBody, refusalSentence, teacherToken, copyParams: trainer.copyParams };
});
