/* What the answer cards and the verdict say, from the models' probabilities: the top digit,
 * "% sure", the top three bars, the "Wrong? It's …" candidates, the disagreement banner, and
 * the sentences about keeping a drawing. Pure (text and numbers, no DOM): `MnistAnswers` in the
 * browser, `require` under Node (tests/js/answers.test.js).
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistAnswers = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** "a" or "an" before a digit as it is read aloud: of 0-9 only "eight" starts with a vowel. */
  const article = (digit) => (Number(digit) === 8 ? "an" : "a");
  const withArticle = (digit) => `${article(digit)} ${digit}`;
  const percent = (p) => `${Math.round(100 * p)}%`;
  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  /** The digits from most to least likely (ties: the smaller digit first, as a stable sort gives). */
  function ranking(probabilities) {
    return Array.from(probabilities, (v, d) => [v, d]).sort((a, b) => b[0] - a[0]).map(([, d]) => d);
  }

  /** A card's empty frame, filled by `cardView` later; its id and classes are the page's contract. */
  function cardMarkup(name, title, classes = 10) {
    const bars = Array.from({ length: classes }, (_, d) =>
      `<div class="bar"><span class="pct"></span><div class="fill"></div><span class="digit">${d}</span></div>`).join("");
    return `<section class="model-card empty" id="card-${escapeHtml(name)}">
      <h3>${escapeHtml(title)} <small class="source"></small></h3>
      <div class="answer"><span class="top"></span><span class="conf"></span></div>
      <div class="placeholder">Draw a digit</div><div class="bars">${bars}</div>
      <div class="fix">Wrong? It’s <span class="fix-article"></span> <button type="button" data-keep></button>
        or <span class="fix-article"></span> <button type="button" data-keep></button></div>
    </section>`;
  }

  /** What one card shows for one model's answer {label, probabilities}. */
  function cardView({ label, probabilities: p }) {
    const ranks = ranking(p);
    const top3 = ranks.slice(0, 3);
    return {
      top: String(label),
      sure: `${percent(p[label])} sure`,
      confidence: Number(p[label]).toFixed(6),
      bars: Array.from(p, (v, d) => {
        const rank = top3.indexOf(d) + 1; // 0: not in the top three, no label on its bar
        return { rank, title: `${d}: ${(100 * v).toFixed(1)}%`, pct: rank ? percent(v) : "", height: `${Math.max(v, 0.01) * 80}%` };
      }),
      // its next two guesses, one tap to keep the drawing as either
      fixes: ranks.slice(1, 3).map((d) => ({ digit: String(d), article: article(d), title: keepTitle(d) })),
    };
  }

  /** The banner over the cards: {agree, html}, or null when nothing is answered. */
  function verdict(names, titles, answers) {
    if (!answers) return null;
    const labels = names.map((n) => answers[n].label);
    const agree = labels.every((l) => l === labels[0]);
    const all = names.length === 2 ? "Both models" : `All ${names.length} models`;
    return {
      agree,
      html: agree ? `${all} read <b>${labels[0]}</b>.`
        : `⚠️ The models disagree: ${names.map((n, i) => `${escapeHtml(titles[n])} says <b>${labels[i]}</b>`).join(", ")}.`,
    };
  }

  const keepTitle = (digit) => `Keep this drawing as ${withArticle(digit)}`;
  const keptMessage = (digit) => `Kept as ${withArticle(digit)}. Draw the next one.`;

  return { article, withArticle, percent, escapeHtml, ranking, cardMarkup, cardView, verdict, keepTitle, keptMessage };
});
