// Unit tests of mnist_demo/page/answers.js (node --test tests/js/): what the cards and the
// verdict say, from the models' probabilities.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const A = require("../../mnist_demo/page/answers.js");
const { SETUP } = require("./helpers.js");

/** Probabilities with the given digits' values, the rest sharing what is left. */
function probs(given) {
  const rest = (1 - Object.values(given).reduce((a, b) => a + b, 0)) / (10 - Object.keys(given).length);
  return Array.from({ length: 10 }, (_, d) => (d in given ? given[d] : rest));
}

test("an 8, a 7: the article as the digit is read aloud", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(A.withArticle),
    ["a 0", "a 1", "a 2", "a 3", "a 4", "a 5", "a 6", "a 7", "an 8", "a 9"]);
  assert.equal(A.keptMessage(8), "Kept as an 8. Draw the next one.");
  assert.equal(A.keptMessage(3), "Kept as a 3. Draw the next one.");
  assert.equal(A.keepTitle(8), "Keep this drawing as an 8");
});

test("a card shows the top digit, how sure, the top three bars and the next two guesses", () => {
  const view = A.cardView({ label: 3, probabilities: probs({ 3: 0.874, 8: 0.06, 5: 0.04 }) });
  assert.equal(view.top, "3");
  assert.equal(view.sure, "87% sure");
  assert.equal(view.confidence, "0.874000");
  assert.deepEqual(view.bars.map((b) => b.rank), [0, 0, 0, 1, 0, 3, 0, 0, 2, 0]);
  assert.deepEqual(view.bars.map((b) => b.pct), ["", "", "", "87%", "", "4%", "", "", "6%", ""]);
  assert.equal(view.bars[3].title, "3: 87.4%");
  assert.equal(view.bars[3].height, `${0.874 * 80}%`);
  assert.equal(view.bars[0].height, `${0.01 * 80}%`, "a tiny probability still shows a sliver");
  assert.deepEqual(view.fixes, [
    { digit: "8", article: "an", title: "Keep this drawing as an 8" },
    { digit: "5", article: "a", title: "Keep this drawing as a 5" },
  ]);
});

test("ties rank the smaller digit first", () => {
  assert.deepEqual(A.ranking([0.1, 0.3, 0.3, 0.3, 0, 0, 0, 0, 0, 0]).slice(0, 4), [1, 2, 3, 0]);
});

test("the verdict: agreement, or each model's reading when they disagree", () => {
  const { names, titles } = SETUP;
  const answers = (labels) => Object.fromEntries(names.map((n, i) => [n, { label: labels[i] }]));
  assert.equal(A.verdict(names, titles, null), null);
  assert.deepEqual(A.verdict(names, titles, answers(names.map(() => 7))), { agree: true, html: "Both models read <b>7</b>." });
  const split = A.verdict(names, titles, answers(names.map((_, i) => i)));
  assert.equal(split.agree, false);
  assert.equal(split.html, `⚠️ The models disagree: ${names.map((n, i) => `${titles[n]} says <b>${i}</b>`).join(", ")}.`);
  const three = ["a", "b", "c"];
  assert.equal(A.verdict(three, {}, { a: { label: 1 }, b: { label: 1 }, c: { label: 1 } }).html, "All 3 models read <b>1</b>.");
});

test("a card's markup: the id and classes the page, its CSS and its tests rely on", () => {
  const html = A.cardMarkup("cnn", "CNN <x>");
  assert.match(html, /^<section class="model-card empty" id="card-cnn">/);
  assert.ok(html.includes("CNN &#60;x&#62;"), "titles are escaped");
  assert.equal(html.match(/class="bar"/g).length, 10);
  assert.equal(html.match(/data-keep>/g).length, 2);
  for (const cls of ["source", "top", "conf", "placeholder", "bars", "fix", "fix-article"]) assert.ok(html.includes(`class="${cls}"`), cls);
});
