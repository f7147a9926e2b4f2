/* The tutorial's two models in the page: the forward passes of mnist_demo/models.py in plain
 * JavaScript, on weights read by weights.js. Pure functions: `MnistModels` in the browser,
 * `require` under Node.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistModels = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** FeedForward: one template per digit, score = template . pixels + bias. */
  function linearLogits(model, x) {
    const W = model.tensors["lin.weight"], b = model.tensors["lin.bias"];
    const out = new Float64Array(10);
    for (let k = 0; k < 10; k++) {
      let s = b[k];
      for (let i = 0; i < 784; i++) s += W[k * 784 + i] * x[i];
      out[k] = s;
    }
    return out;
  }

  /** A 3x3 convolution with stride 2 and padding 1 (nn.Conv2d(cin, cout, 3, 2, 1)), then ReLU. */
  function conv3x3s2(x, cin, size, weight, bias, relu) {
    const cout = bias.length, outSize = Math.floor((size - 1) / 2) + 1;
    const out = new Float64Array(cout * outSize * outSize);
    for (let o = 0; o < cout; o++) {
      for (let oy = 0; oy < outSize; oy++) {
        for (let ox = 0; ox < outSize; ox++) {
          let s = bias[o];
          for (let c = 0; c < cin; c++) {
            for (let ky = 0; ky < 3; ky++) {
              const iy = 2 * oy + ky - 1;
              if (iy < 0 || iy >= size) continue;
              for (let kx = 0; kx < 3; kx++) {
                const ix = 2 * ox + kx - 1;
                if (ix < 0 || ix >= size) continue;
                s += weight[((o * cin + c) * 3 + ky) * 3 + kx] * x[(c * size + iy) * size + ix];
              }
            }
          }
          out[(o * outSize + oy) * outSize + ox] = relu && s < 0 ? 0 : s;
        }
      }
    }
    return { data: out, size: outSize };
  }

  /** CNN: 28 -> 14 -> 7 -> 4 with stride-2 convolutions; the 10 maps of 4x4 averaged are the scores. */
  function cnnLogits(model, x) {
    const t = model.tensors;
    const a1 = conv3x3s2(x, 1, 28, t["conv1.weight"], t["conv1.bias"], true);
    const a2 = conv3x3s2(a1.data, 16, a1.size, t["conv2.weight"], t["conv2.bias"], true);
    const a3 = conv3x3s2(a2.data, 16, a2.size, t["conv3.weight"], t["conv3.bias"], model.finalRelu);
    const cells = a3.size * a3.size, out = new Float64Array(10);
    for (let k = 0; k < 10; k++) {
      let s = 0;
      for (let i = 0; i < cells; i++) s += a3.data[k * cells + i];
      out[k] = s / cells;
    }
    return out;
  }

  const FORWARD = { linear: linearLogits, cnn: cnnLogits };

  function softmax(logits) {
    const m = Math.max(...logits);
    const e = Array.from(logits, (v) => Math.exp(v - m));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / total);
  }

  /** Both answers for one digit: {label, probabilities, logits} for the given model. */
  function predict(model, digit) {
    const logits = Array.from(FORWARD[model.name](model, digit));
    const probabilities = softmax(logits);
    return { label: probabilities.indexOf(Math.max(...probabilities)), probabilities, logits };
  }

  return { linearLogits, cnnLogits, softmax, predict };
});
