/* The pad's strokes without the DOM: the list with one pen at a time, Undo and Clear; pointer
 * positions scaled to the fixed ink canvas; and painting the strokes on any 2D context (the
 * visible canvas, the models' ink canvas, or a test's fake). Pure: `MnistStrokes` in the
 * browser, `require` under Node (tests/js/strokes.test.js).
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistStrokes = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** The strokes drawn so far, each a list of [x, y] in ink-canvas pixels. One pointer draws at
   * a time (a second finger is ignored), and Undo/Clear wait until it is lifted, so a stroke is
   * never cut in half. Each method says whether it changed anything. */
  function createStrokes() {
    let strokes = [];
    let drawing = null; // {id, points} while a pointer is down

    return {
      get list() { return strokes; },
      get drawing() { return drawing !== null; },
      start(id, point) {
        if (drawing) return false;
        drawing = { id, points: [point] };
        strokes.push(drawing.points);
        return true;
      },
      extend(id, points) {
        if (!drawing || drawing.id !== id) return false;
        drawing.points.push(...points);
        return true;
      },
      end(id) {
        if (!drawing || drawing.id !== id) return false;
        drawing = null;
        return true;
      },
      undo() {
        if (drawing || !strokes.length) return false;
        strokes.pop();
        return true;
      },
      clear() {
        if (drawing) return false;
        strokes = [];
        return true;
      },
    };
  }

  /** A pointer's client position as ink-canvas pixels (0..side), whatever the pad's size on screen. */
  function toInk(clientX, clientY, box, side) {
    return [((clientX - box.left) / box.width) * side, ((clientY - box.top) / box.height) * side];
  }

  function tracePath(context, points) {
    context.beginPath();
    context.moveTo(points[0][0], points[0][1]);
    if (points.length === 1) context.lineTo(points[0][0] + 0.01, points[0][1]); // a tap is a dot
    for (const [x, y] of points.slice(1)) context.lineTo(x, y);
    context.stroke();
  }

  /** Clear the context's canvas and draw the strokes (ink-canvas pixels) scaled by `scale`,
   * with the recipe's pen width and round ends, like the strokes the models were tested on. */
  function paintStrokes(context, strokes, { scale, colour, pen }) {
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, context.canvas.width, context.canvas.height);
    context.setTransform(scale, 0, 0, scale, 0, 0);
    Object.assign(context, { lineWidth: pen, lineCap: "round", lineJoin: "round", strokeStyle: colour });
    for (const points of strokes) tracePath(context, points);
  }

  return { createStrokes, toInk, tracePath, paintStrokes };
});
