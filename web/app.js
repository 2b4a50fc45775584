// The dashboard's entry point: a hash router over the three pages.
//   #/sagas?state=&definition=...   the saga list (also "#/" and no hash)
//   #/sagas/<id>                    one saga
//   #/participants                  the registered participants

import { h, replaceChildren } from "./dom.js";
import { participantsPage } from "./participants_page.js";
import { sagaListPage } from "./saga_list_page.js";
import { sagaPage } from "./saga_page.js";

const main = document.getElementById("main");
let current = null;

// Returns {path, params} of the current address: "#/sagas/x?a=1" -> {"/sagas/x", a=1}.
function route() {
  const hash = location.hash.replace(/^#/, "") || "/sagas";
  const [path, query = ""] = hash.split("?", 2);
  return { path: path.replace(/\/+$/, "") || "/sagas", params: new URLSearchParams(query) };
}

function markNavigation(section) {
  for (const link of document.querySelectorAll("nav.top a[data-section]")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function show() {
  if (current) current.dispose();
  current = null;
  const { path, params } = route();
  const saga = path.match(/^\/sagas\/(.+)$/);
  if (path === "/sagas") {
    markNavigation("sagas");
    current = sagaListPage(main, params);
  } else if (saga) {
    markNavigation("sagas");
    current = sagaPage(main, decodeURIComponent(saga[1]));
  } else if (path === "/participants") {
    markNavigation("participants");
    current = participantsPage(main);
  } else {
    markNavigation("");
    document.title = "Not found · Skald";
    replaceChildren(main, h("h1", {}, "Not found"),
      h("p", {}, "There is no page at this address. ", h("a", { href: "#/sagas" }, "Go to the saga list"), "."));
  }
  window.scrollTo(0, 0);
}

// The skip link moves focus to the page's content (its href would be taken for a route).
document.querySelector("[data-skip-to]")?.addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById(event.currentTarget.dataset.skipTo).focus();
});

window.addEventListener("hashchange", show);
show();
