// The service's HTTP API: JSON requests with the bearer token, errors as ApiError, and the
// signed query token that EventSource and plain links need when the server has a token.

const TOKEN_KEY = "prospector.apiToken";

/** The API token this browser keeps (localStorage), or "" when none. */
export function apiToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setApiToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** A non-2xx answer: `status`, and `detail` as the server sent it (a string, or 422's list). */
export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

function authHeaders() {
  const token = apiToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** `fetch` with the bearer token; throws ApiError for a non-2xx answer. */
export async function request(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json", ...authHeaders(), ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      // a body that is not JSON: keep the status text
    }
    if (response.status === 401) window.dispatchEvent(new CustomEvent("auth-needed", { detail }));
    throw new ApiError(response.status, detail);
  }
  return response;
}

/** The JSON body of a request (null for 204). */
export async function json(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

/** `path` with a fresh `?token=` from POST /auth/sse-token when this browser has an API token. */
export async function withStreamToken(path) {
  if (!apiToken()) return path;
  const { token } = await json("/auth/sse-token", { method: "POST" });
  const url = new URL(path, location.origin);
  url.searchParams.set("token", token);
  return url.pathname + url.search;
}

/** Save a file from an authenticated GET (a plain link cannot send the bearer token). */
export async function download(path, filename) {
  const blob = await (await request(path, { headers: { Accept: "*/*" } })).blob();
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement("a"), { href: url, download: filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A run's window records, page by page (GET /runs/{id}/metrics), from after window `after`. */
export async function* windowPages(runId, { after = -1, signal } = {}) {
  const limit = 10000;
  for (;;) {
    const page = await json(`/runs/${encodeURIComponent(runId)}/metrics?after=${after}&limit=${limit}`, { signal });
    yield page.items;
    if (page.items.length < limit) return;
    after = page.next_after;
  }
}

/** Every window record of a run. */
export async function allWindows(runId, options) {
  const windows = [];
  for await (const items of windowPages(runId, options)) windows.push(...items);
  return windows;
}
