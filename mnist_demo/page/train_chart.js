/* The in-page training's curves: the series a run streams (each model's smoothed training loss at
 * every step event, validation loss and accuracy after each epoch, as ui_train.py's Curves plots
 * them on the server) and an SVG of them. The SVG draws its axes and words in `currentColor`, so
 * it reads in Gradio's light and dark themes alike, and scales to its box (viewBox), so it fits a
 * 390-pixel phone. Pure: `MnistTrainChart` in the browser, `require` under Node.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistTrainChart = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const SMOOTHING = 0.8; // ui_train.py's: an exponential moving average of the training loss
  // ui_train.py's colours: light for training, dark for validation; blue linear, orange CNN. Each
  // is readable on white and on Gradio's dark grey.
  const COLOURS = { "linear training": "#60a5fa", "linear validation": "#2563eb", "cnn training": "#fb923c", "cnn validation": "#c2410c",
    "linear accuracy": "#2563eb", "cnn accuracy": "#ea580c", "linear held-out": "#93c5fd", "cnn held-out": "#fdba74" };

  function createCurves() {
    return { loss: {}, acc: {}, smooth: {} };
  }

  /** A run's event into the curves: {kind: "step", model, epoch, step, steps, loss} or
   * {kind: "epoch", model, epoch, valid_loss, valid_acc, own_held_acc}; x is in epochs. The
   * held-out digits' accuracy (a visitor's own, or a class's) is a curve of its own, as on the
   * server's plot, whenever the run measured it. */
  function addEvent(curves, event) {
    const push = (group, key, x, y) => { (group[key] = group[key] || []).push([x, y]); };
    if (event.kind === "step") {
      const before = curves.smooth[event.model];
      const smooth = before === undefined ? event.loss : SMOOTHING * before + (1 - SMOOTHING) * event.loss;
      curves.smooth[event.model] = smooth;
      push(curves.loss, `${event.model} training`, event.epoch + event.step / event.steps, smooth);
    } else if (event.kind === "epoch") {
      push(curves.loss, `${event.model} validation`, event.epoch + 1, event.valid_loss);
      push(curves.acc, `${event.model} accuracy`, event.epoch + 1, 100 * event.valid_acc);
      if (Number.isFinite(event.own_held_acc)) push(curves.acc, `${event.model} held-out`, event.epoch + 1, 100 * event.own_held_acc);
    }
    return curves;
  }

  /** The range a series' values span, a little wider, and never empty. */
  function extent(values, fallback) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (lo === Infinity) return fallback;
    if (hi - lo < 1e-9) return [lo - 0.5, hi + 0.5];
    return [lo, hi];
  }

  /** Where each point of each series goes in a width x height box with `pad` around the plot:
   * {lines: {key: "x,y x,y ..."}, xRange, yRange}. Pure arithmetic, so tests can check it. */
  function layout(series, { width, height, pad, epochs, yRange }) {
    const points = Object.values(series).flat();
    const xr = [0, Math.max(epochs || 1, ...points.map((p) => p[0]))];
    const yr = yRange || extent(points.map((p) => p[1]), [0, 1]);
    const sx = (x) => pad.left + ((x - xr[0]) / (xr[1] - xr[0])) * (width - pad.left - pad.right);
    const sy = (y) => height - pad.bottom - ((y - yr[0]) / (yr[1] - yr[0])) * (height - pad.top - pad.bottom);
    const lines = {};
    for (const [key, list] of Object.entries(series)) {
      lines[key] = list.filter((p) => Number.isFinite(p[1])).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
    }
    return { lines, xRange: xr, yRange: yr, sx, sy };
  }

  const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

  /** The legend, as HTML under the chart (it wraps on a phone where SVG text would not). */
  function legendHtml(series, titles = {}) {
    return Object.keys(series).map((key) => `<span><b style="color:${COLOURS[key] || "inherit"}">■</b> ${escape(titles[key] || key)}</span>`).join(" ");
  }

  /** The y axis's labels for `values` (lowest to highest), with `decimals` decimals or more (up to
   * 4), so that rounding moves none by over a tenth of their span: a fine-tune moves accuracy by a
   * tenth of a point, and an axis labelled "92, 92, 92" (or "91.8, 92.0" for 91.85 to 91.95) misleads. */
  function tickLabels(values, decimals) {
    const span = Math.max(...values) - Math.min(...values);
    const needed = span > 0 ? Math.ceil(-Math.log10(span / 5) - 1e-9) : decimals; // a step of span/5 at most
    const d = Math.min(4, Math.max(decimals, needed));
    return values.map((v) => v.toFixed(d));
  }

  /** One chart as SVG markup: `series` {key: [[x, y]...]}; the y labels with at least `decimals` decimals. */
  function chartSvg(series, { title, epochs, yRange, width = 360, height = 200, decimals = 2 }) {
    const pad = { left: 44, right: 10, top: 24, bottom: 30 };
    const { lines, xRange, yRange: yr, sx, sy } = layout(series, { width, height, pad, epochs, yRange });
    const axis = `<path d="M${pad.left},${pad.top} V${height - pad.bottom} H${width - pad.right}" fill="none" stroke="currentColor" stroke-opacity="0.6"/>`;
    const yValues = [yr[0], (yr[0] + yr[1]) / 2, yr[1]], yLabels = tickLabels(yValues, decimals);
    const yTicks = yValues.map((v, i) => `<text x="${pad.left - 4}" y="${sy(v).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${escape(yLabels[i])}</text>`).join("");
    const xTicks = Array.from({ length: Math.floor(xRange[1]) + 1 }, (_, e) => e)
      .filter((e, _, all) => all.length <= 11 || e % Math.ceil(all.length / 10) === 0)
      .map((e) => `<text x="${sx(e).toFixed(1)}" y="${height - pad.bottom + 14}" text-anchor="middle">${e}</text>`).join("");
    const paths = Object.entries(lines).filter(([, d]) => d).map(([key, d]) => {
      const dots = series[key].length <= 30 ? d.split(" ").map((p) => { const [x, y] = p.split(","); return `<circle cx="${x}" cy="${y}" r="2.5" fill="${COLOURS[key] || "currentColor"}"/>`; }).join("") : "";
      return `<polyline points="${d}" fill="none" stroke="${COLOURS[key] || "currentColor"}" stroke-width="2"/>${dots}`;
    }).join("");
    return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escape(title)}" font-size="11" fill="currentColor">`
      + `<text x="${pad.left}" y="12" font-weight="600">${escape(title)}</text>`
      + `<text x="${width - pad.right}" y="${height - 4}" text-anchor="end">epoch</text>`
      + `${axis}${yTicks}${xTicks}${paths}</svg>`;
  }

  return { SMOOTHING, COLOURS, createCurves, addEvent, extent, layout, tickLabels, chartSvg, legendHtml };
});
