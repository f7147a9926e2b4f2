// The "Your digits" gallery (gr.HTML's `js_on_load`). Python renders the collection; this only
// turns clicks into events: delete one digit, or delete all after a second, explicit tap.
element.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target || !element.contains(target)) return;
  const head = element.querySelector(".clear-all");
  if (target.dataset.remove !== undefined) {
    target.closest(".kept").classList.add("going"); // gone at once; the server's answer re-renders
    trigger("remove", { id: Number(target.dataset.remove) });
  } else if (target.classList.contains("ask-clear")) {
    head.classList.add("asking");
    head.querySelector(".cancel-clear").focus();
  } else if (target.classList.contains("cancel-clear")) {
    head.classList.remove("asking");
  } else if (target.classList.contains("do-clear")) {
    head.classList.remove("asking");
    trigger("clear_all");
  }
});
