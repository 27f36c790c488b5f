/**
 * docs.js: the behaviour of the API documentation page (templates/wsrpc_app/docs.html).
 *
 * The try-it forms call methods through the page's client, `window.wsrpc`, which the
 * `{% wsrpc_client %}` tag creates (it dispatches "wsrpc:ready" when it has). The method
 * filter narrows the sidebar and the list; links to a schema open it.
 */

/** The page's client, once the template tag's module has run. */
function pageClient() {
  if (window.wsrpc) return Promise.resolve(window.wsrpc);
  return new Promise((resolve) => {
    window.addEventListener("wsrpc:ready", (event) => resolve(event.detail.client), { once: true });
  });
}

const STATE_LABELS = { connecting: "connecting…", open: "connected", reconnecting: "reconnecting…", closed: "disconnected" };

function showState(state) {
  const badge = document.getElementById("connection-state");
  if (!badge) return;
  badge.dataset.state = state;
  badge.textContent = STATE_LABELS[state] || state;
}

/** Params from the form's text: undefined for none, else an array or an object. */
function readParams(text) {
  if (!text.trim()) return undefined;
  const params = JSON.parse(text);
  if (params === null || typeof params !== "object") {
    throw new SyntaxError("params are an array or an object");
  }
  return params;
}

function show(output, kind, head, body) {
  output.hidden = false;
  output.className = `outcome ${kind}`;
  const title = document.createElement("div");
  title.className = "outcome-head";
  title.textContent = head;
  const pre = document.createElement("pre");
  pre.textContent = body;
  output.replaceChildren(title, pre);
}

function stringify(value) {
  return value === undefined ? "null" : JSON.stringify(value, null, 2);
}

async function tryIt(form, client) {
  const output = form.querySelector("output");
  const button = form.querySelector("button");
  const method = form.dataset.method;
  let params;
  try {
    params = readParams(form.elements.params.value);
  } catch (error) {
    show(output, "error", "Params are not valid JSON", error.message);
    return;
  }
  const timeout = Number(form.elements.timeout.value) || 0;
  button.disabled = true;
  show(output, "pending", "Calling…", "");
  const started = performance.now();
  try {
    const result = await client.call(method, params, { timeout });
    const elapsed = Math.round(performance.now() - started);
    show(output, "ok", `Result · ${elapsed} ms`, stringify(result));
  } catch (error) {
    const elapsed = Math.round(performance.now() - started);
    const object = { code: error.code, message: error.message };
    if (error.data !== undefined) object.data = error.data;
    show(output, "error", `Error ${error.code ?? ""} · ${elapsed} ms`, stringify(object));
  } finally {
    button.disabled = false;
  }
}

function filterMethods(query) {
  const words = query.trim().toLowerCase();
  for (const element of document.querySelectorAll("li[data-method], article[data-method]")) {
    element.hidden = Boolean(words) && !element.dataset.method.toLowerCase().includes(words);
  }
  let shown = 0;
  for (const group of document.querySelectorAll("[data-group]")) {
    const visible = group.querySelectorAll("li[data-method]:not([hidden]), article[data-method]:not([hidden])").length;
    group.hidden = visible === 0;
    if (group.classList.contains("method-group")) shown += visible;
  }
  document.getElementById("no-match").hidden = shown > 0;
}

function openTarget() {
  const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target && target.tagName === "DETAILS") target.open = true;
}

const filter = document.getElementById("method-filter");
filter?.addEventListener("input", () => filterMethods(filter.value));
window.addEventListener("hashchange", openTarget);
openTarget();

// Submitting before the client exists waits for it (and never reloads the page).
const ready = pageClient();
for (const form of document.querySelectorAll("form.try-it")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    tryIt(form, await ready);
  });
}
const client = await ready;
showState(client.state);
client.on("state", ({ state }) => showState(state));
document.body.dataset.ready = "true";
