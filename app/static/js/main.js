// The dashboard's entry: hash routes to page modules, the token form, and the auth banner.
// A page module exports `mount(root, params, query)` and may return a function that unmounts it.
import { apiToken, setApiToken } from "./api.js";

const ROUTES = [
  [/^#\/runs\/([^/]+)\/replays\/([^/?]+)$/, "replay", (m) => ({ runId: m[1], replayId: m[2] })],
  [/^#\/runs\/([^/?]+)$/, "run", (m) => ({ runId: m[1] })],
  [/^#\/launch$/, "launch", () => ({})],
  [/^#\/compare$/, "compare", () => ({})],
  [/^#\/play$/, "play", () => ({})],
  [/^#\/runs$/, "runs", () => ({})],
];

let unmount = null;
let generation = 0;

function parseHash() {
  const [path, search = ""] = (location.hash || "#/runs").split("?");
  for (const [pattern, page, params] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      const decoded = Object.fromEntries(Object.entries(params(match)).map(([k, v]) => [k, decodeURIComponent(v)]));
      return { page, params: decoded, query: new URLSearchParams(search) };
    }
  }
  return { page: "runs", params: {}, query: new URLSearchParams() };
}

async function route() {
  const current = ++generation;
  if (unmount) unmount();
  unmount = null;
  const { page, params, query } = parseHash();
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === page || (page === "run" && link.dataset.nav === "runs"));
  }
  const view = document.getElementById("view");
  view.replaceChildren();
  view.dataset.page = page;
  const module = await import(`./pages/${page}.js`);
  if (current !== generation) return; // a newer navigation won
  unmount = module.mount(view, params, query) || null;
}

function showBanner(text) {
  const banner = document.getElementById("banner");
  banner.textContent = text;
  banner.hidden = !text;
}

function setUpToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  input.value = apiToken();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setApiToken(input.value.trim());
    showBanner("");
    route();
  });
  window.addEventListener("auth-needed", () =>
    showBanner("The server needs its API token: enter it at the top right."));
}

setUpToken();
window.addEventListener("hashchange", route);
route();
