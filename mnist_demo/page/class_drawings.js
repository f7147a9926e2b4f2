// The teacher's list of the class's drawings (gr.HTML's `js_on_load`). Python renders it; this
// turns a tap on × into "remove this drawing", and on "all theirs" into "remove every drawing of
// the student who drew it" (named by this drawing: the page never sees who the students are).
element.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button || !element.contains(button)) return;
  const one = button.dataset.remove, theirs = button.dataset.removeStudent;
  if (one === undefined && theirs === undefined) return;
  button.closest(".class-drawing").classList.add("going"); // gone at once; the server's answer re-renders
  trigger("remove", { id: Number(one ?? theirs), whose: theirs !== undefined });
});
