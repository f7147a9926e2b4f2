// The "Your digits" gallery (gr.HTML's `js_on_load`). Python renders the collection; this turns
// clicks into events (delete one digit, or all after a second, explicit tap) and keeps the copy in
// this browser (page/store.js, loaded with the pad) in step: deletions, and the digits an import
// added. A student in a class also takes back what they delete from the class: the pad's outbox
// (page/class_store.js) sends that, with this browser's seat.
const local = window.MnistStore.browserStorage(window);
const kept = window.MnistStore.createStore(local);

function withdraw(ids) { // from whichever class each went to (the outbox's receipts)
  window.MnistClassStore.sharedOutbox(local).withdraw(ids);
  window.dispatchEvent(new Event("mnist-class"));
}

element.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target || !element.contains(target)) return;
  const head = element.querySelector(".clear-all");
  if (target.dataset.remove !== undefined) {
    target.closest(".kept").classList.add("going"); // gone at once; the server's answer re-renders
    kept.remove(Number(target.dataset.remove));
    withdraw([Number(target.dataset.remove)]);
    trigger("remove", { id: Number(target.dataset.remove) });
  } else if (target.classList.contains("ask-clear")) {
    head.classList.add("asking");
    head.querySelector(".cancel-clear").focus();
  } else if (target.classList.contains("cancel-clear")) {
    head.classList.remove("asking");
  } else if (target.classList.contains("do-clear")) {
    head.classList.remove("asking");
    withdraw(kept.digits.map((d) => d.id));
    kept.clearDigits();
    trigger("clear_all");
  }
});
// Drawn with another count than this browser keeps: fewer when the tab opened just after a reload
// or a server restart, before the page's restore reached the session; more when a restore's answer,
// drawn before a deletion, arrived after it (the server runs a session's events side by side). The
// browser holds the truth: ask the pad to restore, which draws the session's digits again (a deleted
// one stays deleted there), once per count drawn.
let asked = null;
function checkDrawn() {
  const drawn = Number((element.querySelector(".my-digits") || {}).dataset?.count || 0);
  if (kept.available() && kept.digits.length !== drawn && drawn !== asked) {
    asked = drawn;
    window.dispatchEvent(new Event("mnist-restore"));
  }
}
watch("value", checkDrawn);
watch("added", () => { // an import: the new digits are kept in this browser too
  if (props.added && props.added.digits.length) kept.add(props.added.digits);
});
