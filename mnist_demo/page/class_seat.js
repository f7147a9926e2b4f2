// Which class this browser is in, or teaches (gr.HTML's `js_on_load`, an element with nothing to
// show). Kept in localStorage so that a reload or a restarted server finds the class again: read
// once when the page opens and sent to Python with the page's address ("open"), written whenever
// Python sends a new `seat`. A browser that refuses storage gets a class that lasts as long as
// the tab (every access is guarded: a refusal throws).
const KEY = "mnist-draw-class";

function storage() {
  try { return window.localStorage; } catch (e) { return null; }
}

let stored = null;
try { stored = JSON.parse((storage() && storage().getItem(KEY)) || "null"); } catch (e) { stored = null; }
const params = Object.fromEntries(new URLSearchParams(window.location.search));
trigger("open", { stored, params });
// The page itself shows what its address asks for (Python never updates the columns or tabs that
// hold the pad: that would mount it again): a projector's wall alone, or a teacher's Class tab.
if (params.wall) document.body.classList.add("class-wall-page");
if (params.teach) {
  const openClassTab = (tries) => {
    const tab = [...document.querySelectorAll('[role="tab"]')].find((t) => t.textContent.trim() === "Class");
    if (tab) tab.click();
    else if (tries > 0) setTimeout(() => openClassTab(tries - 1), 100);
  };
  openClassTab(50);
}

watch("seat", () => {
  try {
    const s = storage();
    if (!s) return;
    if (props.seat && (props.seat.code || props.seat.teacher)) s.setItem(KEY, JSON.stringify(props.seat));
    else s.removeItem(KEY);
  } catch (e) { /* refused: the class lasts while the tab is open */ }
});
