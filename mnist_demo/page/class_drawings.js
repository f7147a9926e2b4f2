// The teacher's list of the class's drawings (gr.HTML's `js_on_load`). Python renders it; this
// turns a tap on × into "remove this drawing", and on "all theirs" into a question in the page
// ("Remove all N of theirs, and take them out of the class? Yes / No": never window.confirm, which a mirrored projector would
// show the class) whose Yes removes every drawing of the student who drew it (named by this
// drawing: the page never sees who the students are). A redraw of the list drops an open question.
element.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button || !element.contains(button)) return;
  const figure = button.closest(".class-drawing");
  if (button.dataset.remove !== undefined) {
    figure.classList.add("going"); // gone at once; the server's answer re-renders
    trigger("remove", { id: Number(button.dataset.remove), whose: false });
  } else if (button.dataset.removeStudent !== undefined) {
    const n = Number(button.dataset.theirs) || 1;
    const ask = document.createElement("span");
    ask.className = "ask-theirs";
    ask.setAttribute("role", "group");
    ask.innerHTML = `<span>Remove all ${n} of theirs, and take them out of the class?</span>` +
      `<button type="button" class="yes-theirs" data-yes-student="${button.dataset.removeStudent}">Yes</button>` +
      '<button type="button" class="no-theirs">No</button>';
    button.hidden = true;
    button.after(ask);
    ask.querySelector(".no-theirs").focus();
  } else if (button.dataset.yesStudent !== undefined) {
    figure.classList.add("going");
    trigger("remove", { id: Number(button.dataset.yesStudent), whose: true });
  } else if (button.classList.contains("no-theirs")) {
    const ask = button.closest(".ask-theirs");
    const theirs = figure.querySelector("[data-remove-student]");
    ask.remove();
    theirs.hidden = false;
    theirs.focus();
  }
});

// "End the class…" opens its question below the controls, under the fold of a laptop's screen:
// bring it into view, or the click seems to do nothing.
document.addEventListener("click", (event) => {
  if (!event.target.closest("#class-ask-end")) return;
  const bring = (tries) => {
    const end = document.querySelector("#class-end");
    if (end && end.offsetParent !== null) end.scrollIntoView({ block: "center", behavior: "smooth" });
    else if (tries > 0) setTimeout(() => bring(tries - 1), 100);
  };
  bring(30);
});
