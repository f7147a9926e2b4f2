// The digit test's confusion matrices (gr.HTML's `js_on_load`): a click on a cell asks Python
// for the digits behind it ("<set> <model> <true> <said>").
element.addEventListener("click", (event) => {
  const cell = event.target.closest("[data-cell]");
  if (!cell || !element.contains(cell)) return;
  element.querySelectorAll("[data-cell].chosen").forEach((other) => other.classList.remove("chosen"));
  cell.classList.add("chosen");
  trigger("cell", { cell: cell.dataset.cell });
});
