/* Training in the page: a visitor's own digits are augmented as training.py's augment_batch does
 * it (a few drawings, many views): a small random rotation, scale and shift, then a thicker or
 * thinner stroke. Five random numbers in [-1, 1) per digit decide it all, so that a test can hand
 * the page and torch the same draws (tests/test_page_training.py compares them).
 *
 *   angle = u0 * 12°, scale = 1 + 0.12 * u1, shift = u2, u3 * 2 pixels   (F.affine_grid + F.grid_sample,
 *                                                                          bilinear, zeros outside)
 *   t = 0.6 * u4 + 0.2: t > 0 blends towards the 3x3 maximum (dilated), t < 0 towards the minimum
 *
 * (those limits are presets.json's "augmentation", read by training.py too).
 *
 * Pure functions: `MnistAugment` in the browser or a worker, `require` under Node.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistAugment = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const SIDE = 28, PIXELS = SIDE * SIDE;

  /** The picture's value at (x, y) in pixel units, between its four nearest pixels (bilinear);
   * outside the picture it is 0 (grid_sample's padding_mode="zeros"). */
  function bilinear(src, at, x, y) {
    const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
    const pixel = (px, py) => (px < 0 || py < 0 || px >= SIDE || py >= SIDE ? 0 : src[at + py * SIDE + px]);
    return (1 - fy) * ((1 - fx) * pixel(x0, y0) + fx * pixel(x0 + 1, y0))
      + fy * ((1 - fx) * pixel(x0, y0 + 1) + fx * pixel(x0 + 1, y0 + 1));
  }

  /** One digit (src[at .. at+784)) augmented into dst[to .. to+784), as decided by u (5 numbers
   * in [-1, 1)) within the limits `a` (presets.json's augmentation, setup.training.augmentation).
   * `moved` is a 784-number scratch array, allocated once by the caller. */
  function augmentDigit(src, at, dst, to, u, moved, a) {
    const angle = u[0] * (a.max_degrees * Math.PI) / 180, scale = 1 + a.max_scale * u[1];
    const cos = Math.cos(angle) / scale, sin = Math.sin(angle) / scale;
    const maxShift = (a.max_shift_pixels * 2) / SIDE; // pixels, in affine_grid's [-1, 1] units
    const shiftX = u[2] * maxShift, shiftY = u[3] * maxShift;
    // affine_grid(align_corners=False): output pixel j sits at (2j + 1) / 28 - 1 in [-1, 1] units;
    // theta maps it to where it is read from; grid_sample turns that back into pixel units.
    for (let j = 0; j < SIDE; j++) {
      const gy = (2 * j + 1) / SIDE - 1;
      for (let i = 0; i < SIDE; i++) {
        const gx = (2 * i + 1) / SIDE - 1;
        const sx = cos * gx - sin * gy + shiftX, sy = sin * gx + cos * gy + shiftY;
        moved[j * SIDE + i] = bilinear(src, at, ((sx + 1) * SIDE - 1) / 2, ((sy + 1) * SIDE - 1) / 2);
      }
    }
    // Stroke thickness: towards the 3x3 neighbourhood's maximum (dilation, t > 0) or minimum
    // (erosion, t < 0); max_pool2d's padding never wins, so only pixels inside count.
    const t = u[4] * a.thickness[0] + a.thickness[1]; // mostly thicker: drawn strokes tend to be bold
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        let best = t > 0 ? -Infinity : Infinity;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const py = y + dy, px = x + dx;
            if (py < 0 || px < 0 || py >= SIDE || px >= SIDE) continue;
            const v = moved[py * SIDE + px];
            best = t > 0 ? Math.max(best, v) : Math.min(best, v);
          }
        }
        const v = moved[y * SIDE + x];
        dst[to + y * SIDE + x] = v + Math.abs(t) * (best - v);
      }
    }
  }

  return { PIXELS, augmentDigit };
});
