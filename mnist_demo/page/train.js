/* Training in the page, part 1: the loss and its gradients. The tutorial's two models exactly as
 * mnist_demo/models.py defines them, forward AND backward, in plain JavaScript:
 *
 *   linear  logits = lin.weight . x + lin.bias                      (nn.Linear(784, 10))
 *   cnn     x (1x28x28) -conv1,ReLU-> 16x14x14 -conv2,ReLU-> 16x7x7 -conv3(,ReLU)-> 10x4x4
 *           -average of each 4x4 map-> 10 logits                    (nn.Conv2d(cin, cout, 3, 2, 1))
 *   loss    softmax cross-entropy, the mean over the batch          (F.cross_entropy)
 *
 * Parameters are the safetensors weights' own tensors (weights.js: {"lin.weight": Float32Array,
 * ...}, row-major, a convolution's weight as [out][in][ky][kx]); pictures are CHW. One sample at
 * a time, as a student would work it out by hand: forward through the layers keeping what each
 * produced, then backward, each layer turning "how the loss changes with my output" into "how it
 * changes with my weights and with my input" (the chain rule). The sample's weight gradients are
 * added to the batch's; at the end they are divided by the batch size, because the loss is a mean.
 *
 * Speed without cleverness: every buffer a sample needs is allocated once, in `createNet`, and
 * reused by every sample (no garbage per sample); numbers are read from Float32Array (as torch
 * keeps them) and summed in JavaScript's doubles. Gradients are summed in Float64Array, so that a
 * batch split across workers (trainer.js) sums to the same gradients whatever the split.
 *
 * Pure functions: `MnistTrain` in the browser or a worker, `require` under Node.
 * tests/test_page_training.py holds every loss, gradient and update to PyTorch's within 1e-4.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistTrain = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const SIDE = 28, PIXELS = SIDE * SIDE, CLASSES = 10;
  // The CNN's layers: [input channels, output channels, input side]; each halves the side (stride 2).
  const CONVS = [[1, 16, 28], [16, 16, 14], [16, 10, 7]];
  const outSide = (side) => Math.floor((side - 1) / 2) + 1; // (side + 2*1 - 3) / 2 + 1, rounded down: 14, 7, 4

  /** The buffers one sample needs, allocated once and reused by every sample and every step.
   * `finalRelu`: the tutorial's ReLU on the CNN's class scores (models.py's final_relu). */
  function createNet(name, { finalRelu = true } = {}) {
    if (name !== "linear" && name !== "cnn") throw new Error(`unknown model ${name}`);
    const net = { name, finalRelu, logits: new Float64Array(CLASSES), dLogits: new Float64Array(CLASSES) };
    if (name === "cnn") {
      // out[i]: layer i's output (after its ReLU, except conv3's, kept raw: the ReLU's backward
      // needs to know where it was positive); dOut[i]: the loss's gradient with respect to it.
      net.out = CONVS.map(([, cout, side]) => new Float32Array(cout * outSide(side) * outSide(side)));
      net.dOut = CONVS.map(([, cout, side]) => new Float32Array(cout * outSide(side) * outSide(side)));
      net.acc = new Float64Array(outSide(SIDE) * outSide(SIDE)); // one output map's sums (convForward)
    }
    return net;
  }

  /** Zeroed gradient sums, one per parameter, named and shaped as the parameters. */
  function newGradients(params) {
    const grads = {};
    for (const [key, value] of Object.entries(params)) grads[key] = new Float64Array(value.length);
    return grads;
  }

  function zeroGradients(grads) {
    for (const g of Object.values(grads)) g.fill(0);
  }

  // ------------------------------------------------------------------------------ the loss

  /** Softmax cross-entropy of one sample: -log p(label), with p = softmax(logits). Writes its
   * gradient with respect to the logits, p - onehot(label), into dLogits and returns the loss. */
  function crossEntropy(logits, label, dLogits) {
    let max = -Infinity;
    for (let k = 0; k < CLASSES; k++) if (logits[k] > max) max = logits[k];
    let total = 0; // subtracting the max first: exp never overflows, and softmax does not change
    for (let k = 0; k < CLASSES; k++) total += Math.exp(logits[k] - max);
    const logSumExp = max + Math.log(total);
    for (let k = 0; k < CLASSES; k++) dLogits[k] = Math.exp(logits[k] - logSumExp) - (k === label ? 1 : 0);
    return logSumExp - logits[label];
  }

  // ------------------------------------------------------------------------------ the linear model

  /** nn.Linear(784, 10) on the digit x[at .. at+784): logit k, how well the digit matches template k. */
  function linearForward(net, params, x, at) {
    const W = params["lin.weight"], b = params["lin.bias"], z = net.logits;
    for (let k = 0; k < CLASSES; k++) {
      let s = b[k];
      for (let i = 0, w = k * PIXELS; i < PIXELS; i++) s += W[w + i] * x[at + i];
      z[k] = s;
    }
  }

  /** One sample through the linear model, forward and backward: adds its gradients, returns its loss. */
  function linearSample(net, params, grads, x, at, label) {
    linearForward(net, params, x, at);
    const loss = crossEntropy(net.logits, label, net.dLogits);
    const dW = grads["lin.weight"], db = grads["lin.bias"], dz = net.dLogits;
    for (let k = 0; k < CLASSES; k++) { // d logit_k / d W[k][i] = x[i]: template k moves along the digit
      const g = dz[k];
      db[k] += g;
      for (let i = 0, w = k * PIXELS; i < PIXELS; i++) dW[w + i] += g * x[at + i];
    }
    return loss;
  }

  // ------------------------------------------------------------------------------ the CNN

  /** The output rows (or columns) [first, end) that tap k (0, 1, 2) of the 3x3 kernel reaches
   * inside a picture of `side` rows: input row 2*oy + k - 1 must lie in 0 .. side-1. The rest of
   * the tap's reach is the padding, which counts as 0 and so is simply skipped. */
  const firstInside = (k) => (k === 0 ? 1 : 0);
  const endInside = (k, side) => Math.min(outSide(side), ((side - k) >> 1) + 1);

  /** nn.Conv2d(cin, cout, 3, stride=2, padding=1) on x[at..] (cin x side x side) into out
   * (cout x outSide x outSide), with a ReLU when `relu`. Output pixel (oy, ox) is the bias plus
   * the 3x3 patch of every input channel centred on (2*oy, 2*ox), each pixel times its weight.
   * The loops take one weight at a time and slide it over the whole picture (the innermost loop
   * runs along a row), summing into `acc`, one output map in doubles: the same sums as patch by
   * patch, a quarter faster (fewer index computations per multiplication). */
  function convForward(x, at, cin, side, weight, bias, cout, out, relu, acc) {
    const os = outSide(side), cells = os * os;
    for (let o = 0; o < cout; o++) {
      acc.fill(bias[o], 0, cells);
      for (let c = 0; c < cin; c++) {
        const plane = at + c * side * side;
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const w = weight[((o * cin + c) * 3 + ky) * 3 + kx];
            const y0 = firstInside(ky), y1 = endInside(ky, side), x0 = firstInside(kx), x1 = endInside(kx, side);
            for (let oy = y0; oy < y1; oy++) {
              const row = plane + (2 * oy + ky - 1) * side + kx - 1, a = oy * os;
              for (let ox = x0; ox < x1; ox++) acc[a + ox] += w * x[row + 2 * ox];
            }
          }
        }
      }
      for (let i = 0; i < cells; i++) out[o * cells + i] = relu && acc[i] < 0 ? 0 : acc[i];
    }
  }

  /** The same convolution backward. dOut: the loss's gradient with respect to its output. Each
   * output pixel was a sum of weight x input over its patch, so its gradient flows to each weight
   * times the input it met (dWeight), to the bias as it is (dBias), and, when dX is given, to each
   * input times the weight it met (dX, which the layer below needs; conv1's input is the digit,
   * which needs none). Here the loops go patch by patch, output pixel by output pixel, so that
   * those whose gradient is 0 (about half: a ReLU that was off) are skipped at once. */
  function convBackward(x, at, cin, side, weight, cout, dOut, dWeight, dBias, dX) {
    const os = outSide(side);
    if (dX) dX.fill(0);
    for (let o = 0; o < cout; o++) {
      for (let oy = 0; oy < os; oy++) {
        const ky0 = oy === 0 ? 1 : 0, ky1 = Math.min(3, side + 1 - 2 * oy); // the patch's rows inside
        for (let ox = 0; ox < os; ox++) {
          const g = dOut[(o * os + oy) * os + ox];
          if (g === 0) continue; // nothing flows back: skipping it changes no sum
          dBias[o] += g;
          const kx0 = ox === 0 ? 1 : 0, kx1 = Math.min(3, side + 1 - 2 * ox); // and its columns
          for (let c = 0; c < cin; c++) {
            for (let ky = ky0; ky < ky1; ky++) {
              const row = (c * side + 2 * oy + ky - 1) * side + 2 * ox - 1, w = ((o * cin + c) * 3 + ky) * 3;
              for (let kx = kx0; kx < kx1; kx++) {
                dWeight[w + kx] += g * x[at + row + kx];
                if (dX) dX[row + kx] += g * weight[w + kx];
              }
            }
          }
        }
      }
    }
  }

  /** ReLU backward: the gradient passes where the ReLU's output was positive, and stops elsewhere
   * (as torch's, which gives 0 at exactly 0). */
  function reluBackward(out, dOut) {
    for (let i = 0; i < out.length; i++) if (!(out[i] > 0)) dOut[i] = 0;
  }

  /** The CNN on the digit x[at .. at+784): each layer's output kept in net.out, the logits in net.logits. */
  function cnnForward(net, params, x, at) {
    const [a1, a2, z3] = net.out;
    convForward(x, at, 1, 28, params["conv1.weight"], params["conv1.bias"], 16, a1, true, net.acc);
    convForward(a1, 0, 16, 14, params["conv2.weight"], params["conv2.bias"], 16, a2, true, net.acc);
    convForward(a2, 0, 16, 7, params["conv3.weight"], params["conv3.bias"], 10, z3, false, net.acc);
    // avg_pool2d(·, 4): logit k is the mean of class k's 4x4 score map (after the final ReLU).
    const cells = z3.length / CLASSES;
    for (let k = 0; k < CLASSES; k++) {
      let s = 0;
      for (let i = k * cells; i < (k + 1) * cells; i++) s += net.finalRelu && z3[i] < 0 ? 0 : z3[i];
      net.logits[k] = s / cells;
    }
  }

  /** One sample through the CNN, forward and backward: adds its gradients, returns its loss. */
  function cnnSample(net, params, grads, x, at, label) {
    cnnForward(net, params, x, at);
    const loss = crossEntropy(net.logits, label, net.dLogits);
    const [a1, a2, z3] = net.out, [d1, d2, d3] = net.dOut;
    // Backward, layer by layer from the top. The mean gives each cell 1/16 of its logit's gradient.
    const cells = z3.length / CLASSES;
    for (let k = 0; k < CLASSES; k++) d3.fill(net.dLogits[k] / cells, k * cells, (k + 1) * cells);
    if (net.finalRelu) reluBackward(z3, d3);
    convBackward(a2, 0, 16, 7, params["conv3.weight"], 10, d3, grads["conv3.weight"], grads["conv3.bias"], d2);
    reluBackward(a2, d2);
    convBackward(a1, 0, 16, 14, params["conv2.weight"], 16, d2, grads["conv2.weight"], grads["conv2.bias"], d1);
    reluBackward(a1, d1);
    convBackward(x, at, 1, 28, params["conv1.weight"], 16, d1, grads["conv1.weight"], grads["conv1.bias"], null);
    return loss;
  }

  const SAMPLE = { linear: linearSample, cnn: cnnSample };
  const FORWARD = { linear: linearForward, cnn: cnnForward };

  // ------------------------------------------------------------------------------ a batch

  /** Samples [from, to) of a batch (x: digits of 784 pixels one after another, scaled as the
   * tutorial scales them; labels: their digits): ADDS each sample's gradients to `grads` and
   * returns the SUM of their losses. Sums, not means, so that workers' parts of one batch can be
   * added together (trainer.js) before the one division by the whole batch's size. */
  function accumulate(net, params, grads, x, labels, from, to) {
    const sample = SAMPLE[net.name];
    let loss = 0;
    for (let s = from; s < to; s++) loss += sample(net, params, grads, x, s * PIXELS, labels[s]);
    return loss;
  }

  /** Divides summed gradients by the batch size: the gradients of the batch's mean loss. */
  function averageGradients(grads, n) {
    for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) g[i] /= n;
  }

  /** F.cross_entropy(model(x), labels) and its gradients, for the n digits of one batch: `grads`
   * is overwritten with the gradients of the mean loss, which is returned. */
  function lossAndGradients(net, params, grads, x, labels, n) {
    zeroGradients(grads);
    const loss = accumulate(net, params, grads, x, labels, 0, n);
    averageGradients(grads, n);
    return loss / n;
  }

  /** The logits of one digit (x[at..at+784)), for accuracy and the confusion matrix during
   * training; they stay in net.logits until the next digit. */
  function logitsOf(net, params, x, at = 0) {
    FORWARD[net.name](net, params, x, at);
    return net.logits;
  }

  return {
    PIXELS, CLASSES, createNet, newGradients, zeroGradients, crossEntropy, convForward, convBackward,
    accumulate, averageGradients, lossAndGradients, logitsOf,
  };
});
