// The page hard-codes nothing it shares with Python: every `setup` field pad.js reads is sent by
// page_assets.page_setup(), and the values that once drifted are not written in the page's code.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { PAGE, SETUP } = require("./helpers.js");

const pad = fs.readFileSync(path.join(PAGE, "pad.js"), "utf8");
const code = pad.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, ""); // comments may name them

test("every setup field pad.js reads is sent by Python", () => {
  const fields = new Set([...code.matchAll(/\bsetup\.([a-z_]+)/g)].map((m) => m[1]));
  const recipeFields = new Set([...code.matchAll(/\bsetup\.recipe\.([a-z_]+)/g)].map((m) => m[1]));
  assert.ok(fields.has("names") && fields.has("shipped") && fields.has("max_weights_bytes"));
  for (const key of fields) assert.ok(key in SETUP, `setup.${key}`);
  for (const key of recipeFields) assert.ok(key in SETUP.recipe, `setup.recipe.${key}`);
});

test("pad.js writes no shared value itself", () => {
  assert.doesNotMatch(code, /["'`]shipped["'`]/);
  assert.doesNotMatch(code, /\b(28|784|256|448|1000000|1_000_000)\b/);
  assert.doesNotMatch(code, /card-(linear|cnn)/);
  for (const name of SETUP.names) assert.doesNotMatch(code, new RegExp(`["'\`]${name}["'\`]`), name);
  const html = fs.readFileSync(path.join(PAGE, "pad.html"), "utf8");
  assert.doesNotMatch(html, /card-|\b28\b/);
});
