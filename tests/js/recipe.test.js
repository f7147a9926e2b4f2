// Unit tests of mnist_demo/page/recipe.js (Node's own runner: node --test tests/js/). The
// comparison with the Python reference on real data is in tests/test_page_parity.py.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const R = require("../../mnist_demo/page/recipe.js");
const { PAGE, recipe } = require("./helpers.js");

/** An ink map with a filled disc or a bar, as a canvas would hold it (alpha 0..255). */
function inkMap(h, w, inside) {
  const ink = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) ink[y * w + x] = inside(y, x) ? 255 : 0;
  return ink;
}

test("roundHalfEven rounds like Python's round()", () => {
  for (const [x, r] of [[0.5, 0], [1.5, 2], [2.5, 2], [7.5, 8], [6.5, 6], [2.4999, 2], [2.5001, 3], [3, 3]]) {
    assert.equal(R.roundHalfEven(x), r, `round(${x})`);
  }
});

test("resizeLanczos keeps a flat image flat and copies an image of the same size", () => {
  const flat = new Float32Array(37 * 53).fill(0.75);
  const out = R.resizeLanczos(flat, 37, 53, 11, 20);
  assert.equal(out.length, 11 * 20);
  for (const v of out) assert.ok(Math.abs(v - 0.75) < 1e-6);
  const same = R.resizeLanczos(flat, 37, 53, 37, 53);
  assert.notEqual(same, flat);
  assert.deepEqual(same, flat);
});

test("squaredDistances equals a brute-force search on random images", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 20; trial++) {
    const h = 3 + Math.floor(random() * 20), w = 3 + Math.floor(random() * 20);
    const site = Array.from({ length: h * w }, () => random() < 0.15);
    site[Math.floor(random() * h * w)] = true;
    const d2 = R.squaredDistances(h, w, (i) => site[i]);
    for (let i = 0; i < h * w; i++) {
      let best = Infinity;
      for (let j = 0; j < h * w; j++) {
        if (site[j]) best = Math.min(best, (Math.floor(i / w) - Math.floor(j / w)) ** 2 + ((i % w) - (j % w)) ** 2);
      }
      assert.equal(d2[i], best);
    }
  }
});

test("strokeWidth measures a bar's width (in pixel centres: W + 2, as in Python)", () => {
  let last = 0;
  for (const width of [4, 8, 12]) {
    const shape = inkMap(60, 60, (y, x) => x >= 20 && x < 20 + width && y >= 5 && y < 55).map((v) => v / 255);
    const measured = R.strokeWidth(shape, 60, 60);
    assert.ok(Math.abs(measured - (width + 2)) < 0.1 * width, `width ${width}: ${measured}`);
    assert.ok(measured > last);
    last = measured;
  }
});

test("inkToMnist: nothing drawn, or a speck, is no digit", () => {
  assert.equal(R.inkToMnist(new Uint8Array(448 * 448), 448, 448, recipe), null);
  assert.equal(R.inkToMnist(inkMap(448, 448, (y, x) => y === 200 && x >= 200 && x < 202), 448, 448, recipe), null);
  const faint = inkMap(448, 448, (y, x) => (x - 224) ** 2 + (y - 224) ** 2 < 2500).map((v) => (v ? 5 : 0));
  assert.equal(R.inkToMnist(faint, 448, 448, recipe), null); // under min_peak of full ink
});

test("inkToMnist centres a digit's mass, fits it in the box and scales like training", () => {
  const ring = inkMap(300, 500, (y, x) => {
    const r = Math.hypot(y - 80, x - 400);
    return r > 40 && r < 60;
  });
  const digit = R.inkToMnist(ring, 300, 500, recipe);
  assert.equal(digit.length, 28 * 28);
  let total = 0, cy = 0, cx = 0, top = 28, bottom = -1;
  digit.forEach((v, i) => {
    total += v; cy += v * Math.floor(i / 28); cx += v * (i % 28);
    if (v > 0.05) { top = Math.min(top, Math.floor(i / 28)); bottom = Math.max(bottom, Math.floor(i / 28)); }
  });
  assert.ok(Math.abs(cy / total - recipe.centre) < 0.1 && Math.abs(cx / total - recipe.centre) < 0.1);
  assert.ok(bottom - top + 1 <= recipe.box + 1 && bottom - top + 1 >= recipe.box - 2);
  assert.ok(Math.max(...digit) <= 255 / recipe.pixel_scale + 1e-7);
});

test("inkToMnist brings a bold stroke into MNIST's width range", () => {
  const bold = inkMap(400, 400, (y, x) => Math.hypot(y - 200, x - 200) < 180 && Math.hypot(y - 200, x - 200) > 90); // a very bold 0
  const thin = R.inkToMnist(bold, 400, 400, recipe);
  const plain = R.inkToMnist(bold, 400, 400, recipe, false);
  const inked = (d) => d.filter((v) => v > 0.5).length;
  assert.ok(inked(thin) < inked(plain), "the normalised stroke is thinner");
});

test("alphaOf takes the alpha channel of RGBA pixels", () => {
  assert.deepEqual(Array.from(R.alphaOf(Uint8ClampedArray.from([1, 2, 3, 4, 5, 6, 7, 8]))), [4, 8]);
});

test("every recipe constant the page uses is in recipe.json", () => {
  const source = fs.readFileSync(path.join(PAGE, "recipe.js"), "utf8");
  const used = new Set([...source.matchAll(/(?<![\w/])recipe\.([a-z_]+)/g)].map((m) => m[1]));
  assert.ok(used.has("stroke_range") && used.has("box"));
  for (const key of used) assert.ok(key in recipe, key);
});
