// Which class this browser is in, or teaches (gr.HTML's `js_on_load`, an element with nothing to
// show). Kept in the browser's storage (class_store.js) so that a reload or a restarted server finds
// the class again: read once when the page opens and sent to Python with the page's address
// ("open"), and merged with every new seat Python sends. The pad's class line is drawn from it
// (pad.js): each change is announced with a "mnist-class" event.
function whenLoaded(then, tries = 600) { // the pure scripts come in the pad's <head>: on a slow phone, late
  if (window.MnistClassStore && window.MnistStore) then(window.MnistClassStore, window.MnistStore.browserStorage(window));
  else if (tries > 0) setTimeout(() => whenLoaded(then, tries - 1), 50);
  else trigger("open", { stored: null, params: Object.fromEntries(new URLSearchParams(window.location.search)) });
}

// The ids this browser had in the classes it left ({code: id}, from the former prop Python sends): joining
// such a class again gives the id back, with its keep bucket (classes/store.py, Classroom.join).
const FORMER_KEY = "mnist-draw-class-left";
function readFormer(local) {
  try { const kept = JSON.parse(local.getItem(FORMER_KEY) || "{}"); return kept && typeof kept === "object" ? kept : {}; }
  catch (e) { return {}; }
}

whenLoaded((classes, local) => {
  const params = Object.fromEntries(new URLSearchParams(window.location.search));
  // A wall is a view of a class, not this browser's seat in it: a teacher opens it in a second tab
  // of their own browser (dragged to the projector). It sends none of this browser's seat (the
  // teacher's token stays in the teacher's tab) and keeps nothing: its updates, which carry no
  // seat, wiped the teacher's, so their next reload (or a restart's) showed "Start a class".
  trigger("open", { stored: params.wall ? null : classes.readSeat(local), params, left: readFormer(local) });
  // The page itself shows what its address asks for (Python never updates the columns or tabs that
  // hold the pad: that would mount it again): a projector's wall alone, or a teacher's Class tab.
  if (params.wall) document.body.classList.add("class-wall-page");
  const stored = classes.readSeat(local); // a teacher's page after a restart: Gradio reloads it as "/"
  if (params.teach || (stored && stored.teacher && !params.class && !params.wall)) {
    const openClassTab = (tries) => {
      const tab = [...document.querySelectorAll('[role="tab"]')].find((t) => t.textContent.trim() === "Class");
      if (tab) tab.click();
      else if (tries > 0) setTimeout(() => openClassTab(tries - 1), 100);
    };
    openClassTab(50);
  }
  // The prop's name is not written in quotes in this script: Gradio takes a quoted name here for a
  // custom event, and then sends that event's Python handler (its repr, with a memory address)
  // beside the prop in every seat update.
  watch(Object.keys({ seat: null })[0], () => {
    if (params.wall) return; // (above)
    classes.saveSeat(local, classes.mergeSeat(classes.readSeat(local), props.seat));
    if (props.former && typeof props.former === "object" && Object.keys(props.former).length) {
      try { local.setItem(FORMER_KEY, JSON.stringify(props.former)); } catch (e) { /* refused: this tab only */ }
    }
    window.dispatchEvent(new Event("mnist-class"));
  });
});
