/* MNIST's digit recipe in the page: a port of mnist_demo/preprocess.py (the reference), so the
 * page can read a drawing while the stroke is still being drawn, with no server round trip.
 *
 * Ink -> bounding box -> fitted into 20x20 (Pillow's LANCZOS) with the stroke width brought into
 * MNIST's range (an exact distance transform, as scipy's) -> centre of mass moved to the centre of
 * the 28x28 field (a bilinear shift, as scipy's). Where Python works in float32 this code stores
 * into Float32Array at the same steps, so the two agree to float32 rounding (the tests hold them
 * to it). Pure functions, no DOM: the browser loads it as `MnistRecipe`, Node with `require`.
 * The constants come from mnist_demo/recipe.json, passed in as `recipe`.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistRecipe = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** Python's round(): halves go to the even neighbour (round(7.5) == 8, round(6.5) == 6). */
  function roundHalfEven(x) {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  /** The bounding box of the pixels where keep(value) is true, or null if there are none. */
  function boundingBox(a, h, w, keep) {
    let top = h, bottom = -1, left = w, right = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (keep(a[y * w + x])) {
          if (y < top) top = y;
          if (y > bottom) bottom = y;
          if (x < left) left = x;
          if (x > right) right = x;
        }
      }
    }
    return bottom < 0 ? null : { top, left, h: bottom - top + 1, w: right - left + 1 };
  }

  function crop(a, w, box, convert) {
    const out = new Float32Array(box.h * box.w);
    for (let y = 0; y < box.h; y++) {
      for (let x = 0; x < box.w; x++) out[y * box.w + x] = convert(a[(y + box.top) * w + x + box.left]);
    }
    return out;
  }

  // ------------------------------------------------------------------ Pillow's LANCZOS resize

  // Pillow's lanczos filter (support 3) and its coefficient table (libImaging/Resample.c):
  // when shrinking, the filter is stretched by the scale, so every input pixel counts.
  function sinc(x) {
    if (x === 0) return 1;
    x *= Math.PI;
    return Math.sin(x) / x;
  }

  function lanczos(x) {
    return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
  }

  function lanczosCoefficients(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = 3 * filterScale;
    const ksize = Math.ceil(support) * 2 + 1;
    const bounds = new Int32Array(outSize * 2);
    const weights = new Float64Array(outSize * ksize);
    for (let xx = 0; xx < outSize; xx++) {
      const centre = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(centre - support + 0.5)); // C's (int) truncates
      const count = Math.min(inSize, Math.trunc(centre + support + 0.5)) - xmin;
      let total = 0;
      for (let x = 0; x < count; x++) {
        const wgt = lanczos((x + xmin - centre + 0.5) / filterScale);
        weights[xx * ksize + x] = wgt;
        total += wgt;
      }
      if (total !== 0) for (let x = 0; x < count; x++) weights[xx * ksize + x] /= total;
      bounds[2 * xx] = xmin;
      bounds[2 * xx + 1] = count;
    }
    return { bounds, weights, ksize };
  }

  /** Pillow's Image.resize((outW, outH), LANCZOS) of a float32 ("F") image: a horizontal pass,
   * then a vertical one, each skipped when that side keeps its size. */
  function resizeLanczos(src, h, w, outH, outW) {
    let img = src;
    if (outW !== w) {
      const { bounds, weights, ksize } = lanczosCoefficients(w, outW);
      const tmp = new Float32Array(h * outW);
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < outW; xx++) {
          const start = y * w + bounds[2 * xx], count = bounds[2 * xx + 1], k = xx * ksize;
          let sum = 0;
          for (let x = 0; x < count; x++) sum += img[start + x] * weights[k + x];
          tmp[y * outW + xx] = sum;
        }
      }
      img = tmp;
    }
    if (outH !== h) {
      const { bounds, weights, ksize } = lanczosCoefficients(h, outH);
      const tmp = new Float32Array(outH * outW);
      for (let yy = 0; yy < outH; yy++) {
        const ymin = bounds[2 * yy], count = bounds[2 * yy + 1], k = yy * ksize;
        for (let x = 0; x < outW; x++) {
          let sum = 0;
          for (let y = 0; y < count; y++) sum += img[(y + ymin) * outW + x] * weights[k + y];
          tmp[yy * outW + x] = sum;
        }
      }
      img = tmp;
    }
    return img === src ? Float32Array.from(src) : img;
  }

  /** preprocess._fit: resize so the longer side is `side`, keeping the aspect ratio, clipped to [0, 1]. */
  function fit(a, h, w, side) {
    const scale = side / Math.max(h, w);
    const outW = Math.max(1, roundHalfEven(w * scale)), outH = Math.max(1, roundHalfEven(h * scale));
    const out = resizeLanczos(a, h, w, outH, outW);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, out[i]));
    return { data: out, h: outH, w: outW };
  }

  // ------------------------------------------------------------------ distance transform

  // Exact squared Euclidean distance transform (Felzenszwalb & Huttenlocher), the same distances
  // as scipy.ndimage.distance_transform_edt: to the nearest "site" pixel inside the array.
  function distance1d(f, n, d, v, z) {
    let k = -1;
    for (let q = 0; q < n; q++) {
      if (f[q] === Infinity) continue;
      if (k < 0) {
        k = 0; v[0] = q; z[0] = -Infinity; z[1] = Infinity;
        continue;
      }
      let s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      while (s <= z[k]) {
        k--;
        s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      }
      k++; v[k] = q; z[k] = s; z[k + 1] = Infinity;
    }
    if (k < 0) {
      d.fill(Infinity, 0, n);
      return;
    }
    for (let q = 0, j = 0; q < n; q++) {
      while (z[j + 1] < q) j++;
      d[q] = (q - v[j]) * (q - v[j]) + f[v[j]];
    }
  }

  /** Squared distance from every pixel to the nearest pixel where isSite(i) is true (Infinity
   * where there is none: a box full of ink keeps its width here, where scipy's answer for it is
   * arbitrary; a round pen cannot draw such a box). */
  function squaredDistances(h, w, isSite) {
    const n = Math.max(h, w);
    const f = new Float64Array(n), d = new Float64Array(n), v = new Int32Array(n), z = new Float64Array(n + 1);
    const out = new Float64Array(h * w);
    for (let x = 0; x < w; x++) {
      for (let y = 0; y < h; y++) f[y] = isSite(y * w + x) ? 0 : Infinity;
      distance1d(f, h, d, v, z);
      for (let y = 0; y < h; y++) out[y * w + x] = d[y];
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) f[x] = out[y * w + x];
      distance1d(f, w, d, v, z);
      for (let x = 0; x < w; x++) out[y * w + x] = d[x];
    }
    return out;
  }

  /** preprocess.stroke_width: for a stroke of width W the distance to the background averages W/4. */
  function strokeWidth(shape, h, w) {
    const d2 = squaredDistances(h, w, (i) => !shape[i]);
    let sum = 0, count = 0;
    for (let i = 0; i < shape.length; i++) {
      if (shape[i]) { sum += Math.sqrt(d2[i]); count++; }
    }
    return count ? (4 * sum) / count : 0;
  }

  /** preprocess.normalise_stroke: bring the stroke width into MNIST's range (grow or thin the ink). */
  function normaliseStroke(c, recipe) {
    const { box, work_side: workSide } = recipe;
    const [low, high] = recipe.stroke_range;
    const side = Math.max(c.h, c.w);
    let shape = Uint8Array.from(c.data, (v) => (v >= 0.5 ? 1 : 0));
    const width = (strokeWidth(shape, c.h, c.w) * box) / side;
    if ((low <= width && width <= high) || width === 0) return c;
    const grow = ((Math.min(high, Math.max(low, width)) - width) * side) / box / 2; // per side, in crop pixels
    let h = c.h, w = c.w;
    if (grow > 0) {
      const pad = Math.ceil(grow) + 1;
      const padded = new Uint8Array((h + 2 * pad) * (w + 2 * pad));
      for (let y = 0; y < h; y++) padded.set(shape.subarray(y * w, y * w + w), (y + pad) * (w + 2 * pad) + pad);
      h += 2 * pad; w += 2 * pad;
      const d2 = squaredDistances(h, w, (i) => padded[i] === 1);
      shape = Uint8Array.from(d2, (v) => (Math.sqrt(v) <= grow + 0.5 ? 1 : 0)); // +0.5: pixel centres
    } else {
      const d2 = squaredDistances(h, w, (i) => !shape[i]);
      const thinner = Uint8Array.from(d2, (v) => (Math.sqrt(v) > 0.5 - grow ? 1 : 0));
      let before = 0, after = 0;
      for (let i = 0; i < shape.length; i++) { before += shape[i]; after += thinner[i]; }
      if (after < 0.25 * before) return c; // never erase the digit itself
      shape = thinner;
    }
    const b = boundingBox(shape, h, w, (v) => v === 1);
    return fit(crop(shape, w, b, (v) => v), b.h, b.w, workSide);
  }

  // ------------------------------------------------------------------ the recipe

  /** preprocess.ink_to_mnist: an (h, w) ink map (Uint8 0..255, or floats in [0, 1]) to a
   * Float32Array(784) digit scaled like training, or null when nothing (or a speck) is drawn. */
  function inkToMnist(ink, h, w, recipe, normalise = true) {
    const full = ink instanceof Uint8Array || ink instanceof Uint8ClampedArray ? 255 : 1;
    let peak = 0;
    for (let i = 0; i < ink.length; i++) if (ink[i] > peak) peak = ink[i];
    if (peak < recipe.min_peak * full) return null;
    const threshold = recipe.ink_threshold * peak;
    let count = 0;
    for (let i = 0; i < ink.length; i++) if (ink[i] >= threshold) count++;
    if (count < Math.max(recipe.min_ink_pixels_abs, recipe.min_ink_pixels * ink.length)) return null;
    const box = boundingBox(ink, h, w, (v) => v >= threshold);
    const peak32 = Math.fround(peak);
    let c = { data: crop(ink, w, box, (v) => Math.fround(v) / peak32), h: box.h, w: box.w };
    if (normalise) c = normaliseStroke(fit(c.data, c.h, c.w, recipe.work_side), recipe);
    const small = fit(c.data, c.h, c.w, recipe.box);
    return centre(small, recipe);
  }

  /** Paste the fitted digit in the middle of the field, then move its centre of mass to the
   * centre with a bilinear sub-pixel shift (scipy.ndimage.shift, order=1, zeros outside). */
  function centre(small, recipe) {
    const n = recipe.field;
    const field = new Float32Array(n * n);
    const top = Math.floor((n - small.h) / 2), left = Math.floor((n - small.w) / 2);
    for (let y = 0; y < small.h; y++) field.set(small.data.subarray(y * small.w, (y + 1) * small.w), (y + top) * n + left);
    let total = 0, sy = 0, sx = 0;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const v = field[y * n + x];
        total += v; sy += v * y; sx += v * x;
      }
    }
    const dy = recipe.centre - sy / total, dx = recipe.centre - sx / total;
    const at = (y, x) => (y >= 0 && y < n && x >= 0 && x < n ? field[y * n + x] : 0);
    const scale = Math.fround(255 / recipe.pixel_scale);
    const out = new Float32Array(n * n);
    for (let y = 0; y < n; y++) {
      const sy2 = y - dy, y0 = Math.floor(sy2), ty = sy2 - y0;
      for (let x = 0; x < n; x++) {
        const sx2 = x - dx, x0 = Math.floor(sx2), tx = sx2 - x0;
        let v = 0;
        if (sy2 > -1 && sy2 < n && sx2 > -1 && sx2 < n) { // beyond one pixel outside, only zeros
          v = (1 - ty) * ((1 - tx) * at(y0, x0) + tx * at(y0, x0 + 1))
            + ty * ((1 - tx) * at(y0 + 1, x0) + tx * at(y0 + 1, x0 + 1));
        }
        v = Math.fround(v);
        out[y * n + x] = Math.fround(Math.min(1, Math.max(0, v)) * scale);
      }
    }
    return out;
  }

  /** The alpha channel of canvas RGBA pixels (ImageData.data) as the ink map. */
  function alphaOf(rgba) {
    const out = new Uint8Array(rgba.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = rgba[4 * i + 3];
    return out;
  }

  return { roundHalfEven, resizeLanczos, fit, squaredDistances, strokeWidth, normaliseStroke, inkToMnist, alphaOf };
});
