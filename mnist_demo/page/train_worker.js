/* A training worker: the thin wiring around trainer.js's answerWorkerMessage. It receives the
 * model's name once, then, each step, the weights and its slice of the batch, and answers with
 * the slice's summed loss and gradients (trainer.js sums the workers' answers and steps).
 *
 * In the browser the page starts it from one script made of train.js, optim.js, augment.js,
 * trainer.js and this file (they define MnistTrain, MnistOptim, MnistAugment, MnistTrainer on the
 * worker's `self`); under Node it runs in a worker_threads Worker and requires them
 * (tests/js/trainer.test.js, benchmarks/page_training.py).
 */
"use strict";
(function () {
  const inNode = typeof self === "undefined" && typeof require === "function";
  const trainer = inNode ? require("./trainer.js") : self.MnistTrainer;
  const port = inNode ? require("node:worker_threads").parentPort : self;
  const state = {};
  const answer = (message) => {
    const out = trainer.answerWorkerMessage(state, message);
    if (out) port.postMessage(out.reply, out.transfer);
  };
  if (inNode) port.on("message", answer);
  else port.addEventListener("message", (e) => answer(e.data));
})();
