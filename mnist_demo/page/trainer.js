/* Training in the page, part 3: one training step, on the main thread or data-parallel across Web
 * Workers. A step is: the batch's mean loss and gradients (train.js), then one optimizer step at
 * the schedule's learning rate (optim.js). Data-parallel, each worker takes a slice of the batch
 * and returns its SUMMED loss and gradients; the coordinator adds the slices together, divides
 * once by the batch size and applies the optimizer once, so N workers give the one-worker step
 * (tests/js/trainer.test.js), only sooner. The weights are a few thousand numbers: sending them to
 * every worker each step is cheap.
 *
 * A worker here is anything with `gradients(params, x, labels, n) -> Promise<{loss, grads}>`:
 * `inProcessWorker` (the main thread, for a browser without Workers), or `workerClient` around a
 * real Worker running train_worker.js, whose messages `answerWorkerMessage` answers.
 *
 * Also the recipe itself: `presetConfig` reads a preset from presets.json, as presets.py does.
 *
 * Pure functions: `MnistTrainer` in the browser or a worker, `require` under Node.
 */
(function (root, factory) {
  const deps = typeof module === "object" && module.exports
    ? [require("./train.js"), require("./optim.js"), require("./augment.js")]
    : [root.MnistTrain, root.MnistOptim, root.MnistAugment];
  const api = factory(...deps);
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistTrainer = api;
})(typeof self !== "undefined" ? self : this, function (train, optim, augment) {
  "use strict";

  /** A preset's TrainConfig as a plain object: every setting's default from presets.json, with the
   * preset's changes and then `changes` on top (presets.py's PRESETS does the same). */
  function presetConfig(training, name, changes = {}) {
    const preset = training.presets[name];
    if (!preset) throw new Error(`unknown preset ${name}`);
    const config = {};
    for (const [key, setting] of Object.entries(training.settings)) config[key] = setting.default;
    for (const [key, value] of Object.entries({ ...preset.changes, ...changes })) {
      if (!(key in config)) throw new Error(`unknown setting ${key}`);
      config[key] = value;
    }
    return config;
  }

  /** Where each of `parts` workers' slice of an n-digit batch starts and ends: as even as can be. */
  function splitBatch(n, parts) {
    const slices = [];
    for (let k = 0, from = 0; k < parts; k++) {
      const to = from + Math.floor(n / parts) + (k < n % parts ? 1 : 0);
      if (to > from) slices.push([from, to]);
      from = to;
    }
    return slices;
  }

  /** A "worker" on this thread, for a browser without Web Workers and for tests: the same
   * function a real worker runs, without the messages. */
  function inProcessWorker(model, finalRelu) {
    const net = train.createNet(model, { finalRelu });
    let grads = null;
    return {
      gradients(params, x, labels, n) {
        grads = grads || train.newGradients(params);
        train.zeroGradients(grads);
        return Promise.resolve({ loss: train.accumulate(net, params, grads, x, labels, 0, n), grads });
      },
    };
  }

  /** What train_worker.js does with each message, kept here so that Node can test it:
   *   {model, finalRelu}: make the model's buffers (once);
   *   {params, x, labels, n}: this slice's summed loss and gradients, sent back as
   *   {loss, grads}, the gradients' buffers transferred (not copied). */
  function answerWorkerMessage(state, message) {
    if (message.model) {
      state.net = train.createNet(message.model, { finalRelu: message.finalRelu });
      return null;
    }
    const { params, x, labels, n } = message;
    const grads = train.newGradients(params); // transferred away with the answer: a new one each step
    const loss = train.accumulate(state.net, params, grads, x, labels, 0, n);
    return { reply: { loss, grads }, transfer: Object.values(grads).map((g) => g.buffer) };
  }

  /** The page's side of a Worker (or of Node's worker_threads Worker) running train_worker.js. */
  function workerClient(worker, model, finalRelu) {
    let pending = null;
    const receive = (data) => {
      const { resolve } = pending;
      pending = null;
      resolve(data);
    };
    const fail = (error) => {
      if (pending) pending.reject(error instanceof Error ? error : new Error(error.message || "worker failed"));
      pending = null;
    };
    if (typeof worker.on === "function") { // Node
      worker.on("message", receive);
      worker.on("error", fail);
    } else {
      worker.addEventListener("message", (e) => receive(e.data));
      worker.addEventListener("error", fail);
      worker.addEventListener("messageerror", () => fail(new Error("a worker's answer could not be read")));
    }
    worker.postMessage({ model, finalRelu });
    return {
      gradients(params, x, labels, n) {
        if (pending) return Promise.reject(new Error("one step at a time"));
        // Copies of just this slice, handed over rather than copied again: posting a subarray
        // would clone the whole batch's buffer behind it.
        const xs = x.slice(0, n * train.PIXELS), ys = labels.slice(0, n);
        return new Promise((resolve, reject) => {
          pending = { resolve, reject };
          worker.postMessage({ params, x: xs, labels: ys, n }, [xs.buffer, ys.buffer]);
        });
      },
      terminate: () => worker.terminate(),
    };
  }

  /** How many workers to train with: one per core the browser reports (navigator.hardwareConcurrency,
   * 1 when it says nothing), at most `cap`, and one core left free when `spareOne` (a laptop that
   * also serves the class keeps a core for its server); never fewer than one. */
  function workerCount({ cores, cap, spareOne = false }) {
    const usable = (Number.isInteger(cores) && cores > 0 ? cores : 1) - (spareOne ? 1 : 0);
    return Math.max(1, Math.min(cap, usable));
  }

  /** The workers of a run: `count` made by `makeWorker` (a Worker running train_worker.js), or,
   * when there is no makeWorker (a browser without Web Workers) or making one fails, the main
   * thread, more slowly. `inWorkers` says which, for the page to say so. */
  function startWorkers(model, finalRelu, count, makeWorker) {
    const made = [];
    if (makeWorker) {
      try {
        for (let k = 0; k < count; k++) made.push(makeWorker());
        return { workers: made.map((w) => workerClient(w, model, finalRelu)), inWorkers: true };
      } catch (e) {
        made.forEach((w) => w.terminate());
      }
    }
    return { workers: [inProcessWorker(model, finalRelu)], inWorkers: false };
  }

  /** One run's state: the model's parameters (changed in place), its optimizer and schedule, and
   * how many steps it has taken. `config` is a presetConfig; `totalSteps` the run's optimizer
   * steps (one-cycle needs to know); `training` is presets.json (setup.training). */
  function createRun({ model, params, config, training, totalSteps }) {
    return {
      model, params, config, totalSteps, step: 0,
      grads: train.newGradients(params),
      optimizer: optim.createOptimizer(config.optimizer, training.optimizers[config.optimizer]),
      schedule: optim.scheduleFor(config, training, totalSteps),
    };
  }

  /** One training step of `run` on the batch (x: n digits of 784 scaled pixels; labels), its
   * slices computed by `workers` at once. Returns the batch's mean loss (F.cross_entropy's). */
  async function trainStep(run, workers, x, labels, n) {
    const slices = splitBatch(n, workers.length);
    const answers = await Promise.all(slices.map(([from, to], k) => workers[k].gradients(
      run.params, x.subarray(from * train.PIXELS, to * train.PIXELS), labels.subarray(from, to), to - from)));
    train.zeroGradients(run.grads);
    let loss = 0;
    for (const answer of answers) { // summed in the slices' order: the same sum whatever finishes first
      loss += answer.loss;
      for (const [key, g] of Object.entries(run.grads)) {
        const part = answer.grads[key];
        for (let i = 0; i < g.length; i++) g[i] += part[i];
      }
    }
    train.averageGradients(run.grads, n);
    optim.optimizerStep(run.optimizer, run.params, run.grads, run.schedule.lr(run.step), run.schedule.momentum(run.step));
    run.step += 1;
    return loss / n;
  }

  // ------------------------------------------------------------------------------ a whole run

  /** A small seeded generator of numbers in [0, 1) (mulberry32): a run's shuffles repeat with its seed. */
  function seededRandom(seed) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
  }

  /** 0 .. n-1 in a random order (Fisher-Yates), into `order` (a Uint32Array of n, reused each epoch). */
  function shuffle(order, random) {
    for (let i = 0; i < order.length; i++) order[i] = i;
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i]; order[i] = order[j]; order[j] = t;
    }
    return order;
  }

  // ------------------------------------------------------------------------------ the visitor's own digits

  /** Which of a visitor's digits are held out of training, to judge it (collection.py's held_out):
   * one in `every` (setup.hold_out_every) of each label, by the order kept, each label's count
   * starting at a different phase (its rank + the label), so that a few drawings per digit give
   * about a quarter overall, never more. */
  function heldOut(labels, every) {
    const seen = new Array(10).fill(0), out = new Array(labels.length);
    for (let i = 0; i < labels.length; i++) out[i] = (seen[labels[i]]++ + labels[i]) % every === every - 1;
    return out;
  }

  /** Python's round(): halves go to the even neighbour (0.5 -> 0, 1.5 -> 2, 2.5 -> 2). */
  function roundHalfEven(v) {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  /** How many times each of the visitor's digits appears per epoch, so that they make up `share`
   * of its rows (training.py's own_repeats): 40 drawings among 50,000 MNIST digits would otherwise
   * never matter. */
  function ownRepeats(mnistRows, ownDigits, share) {
    if (!ownDigits || share <= 0) return 0;
    return Math.max(1, roundHalfEven((share / (1 - share)) * mnistRows / ownDigits));
  }

  /** New weights for `model`, as PyTorch starts nn.Linear and nn.Conv2d (reset_parameters:
   * kaiming_uniform_ with a = sqrt(5), which is uniform in +-1/sqrt(fan_in), and the bias in the
   * same range), fan_in being the inputs one output sums (784; 9 per input channel). With the
   * config's class_bias_init, the CNN's conv3.bias starts at that value (training.py's new_model):
   * every class's scores start above 0, so none starts dead behind the final ReLU. The numbers come
   * from the config's seed, but not torch's generator: the same seed gives other weights than torch. */
  function newParams(model, shapes, config) {
    const random = seededRandom(config.seed), params = {};
    const weights = Object.keys(shapes).filter((k) => k.endsWith(".weight"));
    for (const key of weights) {
      const shape = shapes[key], layer = key.slice(0, -".weight".length);
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1), bound = 1 / Math.sqrt(fanIn);
      const uniform = (n) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * bound);
      params[key] = uniform(shape.reduce((a, b) => a * b, 1));
      params[`${layer}.bias`] = uniform(shapes[`${layer}.bias`][0]);
    }
    if (model === "cnn" && config.class_bias_init !== null) params["conv3.bias"].fill(config.class_bias_init);
    return params;
  }

  /** Mean loss and accuracy of the model on digits kept as bytes (`digits`: {x: Uint8Array of
   * count * 784, y: labels, count}), scaled by `scale` (the recipe's pixel_scale) one at a time. */
  function evaluate(net, params, digits, scale) {
    const one = new Float32Array(train.PIXELS), dLogits = new Float64Array(train.CLASSES);
    let loss = 0, right = 0;
    for (let s = 0; s < digits.count; s++) {
      for (let i = 0; i < train.PIXELS; i++) one[i] = digits.x[s * train.PIXELS + i] / scale;
      const logits = train.logitsOf(net, params, one, 0);
      loss += train.crossEntropy(logits, digits.y[s], dLogits);
      let best = 0;
      for (let k = 1; k < train.CLASSES; k++) if (logits[k] > logits[best]) best = k;
      right += best === digits.y[s];
    }
    return { loss: loss / digits.count, acc: right / digits.count };
  }

  /** A whole training, as training.py's loop: `config.epochs` passes over the first config.limit
   * digits of `data` (digits as bytes: {x, y, count}), then, when `own` (the visitor's own digits
   * to train on, the same form) is given, each of them ownRepeats times, in a seeded random order;
   * batches of config.batch_size (the last one smaller), the schedule over all the run's steps. The
   * visitor's digits are always augmented (a few drawings, many views), every digit when
   * config.augment. After each epoch, the loss and accuracy on `valid`, and on `ownHeld` (their
   * held-out digits) when given. Yields {kind: "step", epoch, step, steps, loss} every `logEvery`
   * steps and {kind: "epoch", epoch, valid_loss, valid_acc, own_held_acc} after each epoch;
   * stopping the iteration stops the run, and `params` keep what was trained. */
  async function* trainEpochs({ model, params, config, training, data, valid, workers, scale, logEvery = 50,
    own = null, ownHeld = null }) {
    const mnistRows = config.limit === null ? data.count : Math.min(config.limit, data.count);
    const repeats = own ? ownRepeats(mnistRows, own.count, config.own_share) : 0;
    const rowCount = mnistRows + (repeats ? own.count * repeats : 0);
    const batch = config.batch_size, steps = Math.ceil(rowCount / batch);
    const run = createRun({ model, params, config, training, totalSteps: config.epochs * steps });
    const random = seededRandom(config.seed), order = new Uint32Array(rowCount);
    const x = new Float32Array(batch * train.PIXELS), labels = new Int32Array(batch);
    const moved = new Float32Array(train.PIXELS), draws = new Float64Array(5);
    const net = train.createNet(model, { finalRelu: config.final_relu });
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      shuffle(order, random);
      let running = 0, since = 0;
      for (let step = 0; step < steps; step++) {
        const from = step * batch, n = Math.min(batch, rowCount - from);
        for (let s = 0; s < n; s++) {
          // Row r: MNIST's digit r, or, past them, the visitor's digits one copy after another.
          const r = order[from + s], mine = r >= mnistRows, source = mine ? own : data;
          const row = mine ? (r - mnistRows) % own.count : r;
          for (let i = 0; i < train.PIXELS; i++) x[s * train.PIXELS + i] = source.x[row * train.PIXELS + i] / scale;
          labels[s] = source.y[row];
          if (mine || config.augment) {
            for (let k = 0; k < 5; k++) draws[k] = random() * 2 - 1;
            augment.augmentDigit(x, s * train.PIXELS, x, s * train.PIXELS, draws, moved, training.augmentation);
          }
        }
        running += await trainStep(run, workers, x, labels, n);
        since += 1;
        if (since === logEvery || step === steps - 1) {
          yield { kind: "step", epoch, step: step + 1, steps, loss: running / since };
          running = 0;
          since = 0;
        }
      }
      const measured = evaluate(net, params, valid, scale);
      const ownHeldAcc = ownHeld && ownHeld.count ? evaluate(net, params, ownHeld, scale).acc : null;
      yield { kind: "epoch", epoch, valid_loss: measured.loss, valid_acc: measured.acc, own_held_acc: ownHeldAcc };
    }
  }

  /** Which weights to keep (finetune.py's rule, over the epochs' checkpoints): the one that reads
   * the held-out drawings (the class's, or a visitor's own) best (accuracy, then loss), among those that beat the start there
   * and lose at most `budget` (a fraction: finetune.MAX_MNIST_LOSS) of MNIST validation accuracy.
   * `start` and each checkpoint: {held_acc, held_loss, valid_acc}. Returns a checkpoint, or null:
   * the starting weights come back. */
  function chooseCheckpoint(start, checkpoints, budget) {
    const better = (a, b) => a.held_acc > b.held_acc || (a.held_acc === b.held_acc && a.held_loss < b.held_loss);
    let best = null;
    for (const c of checkpoints) {
      if (start.valid_acc - c.valid_acc > budget + 1e-12 || !better(c, start)) continue;
      if (best === null || better(c, best)) best = c;
    }
    return best;
  }
  /** A copy of a model's tensors (a checkpoint). */
  function copyParams(params) {
    return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Float32Array.from(v)]));
  }

  return {
    seededRandom, shuffle, heldOut, chooseCheckpoint, copyParams, ownRepeats, newParams, evaluate, trainEpochs,
    presetConfig, splitBatch, inProcessWorker, answerWorkerMessage, workerClient, workerCount, startWorkers, createRun,
    trainStep,
  };
});
