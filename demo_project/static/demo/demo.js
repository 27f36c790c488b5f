// The demo page: chat on topics, an RPC playground, and the server calling into the browser.
// It uses window.wsrpc, the client the {% wsrpc_client %} template tag connects.

const rpc = window.wsrpc ?? (await new Promise((resolve) => {
  window.addEventListener("wsrpc:ready", (event) => resolve(event.detail.client), { once: true });
}));
const { RpcError } = window;
const $ = (selector) => document.querySelector(selector);

// Helpers -------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const clock = (date = new Date()) => date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const pretty = (value) => JSON.stringify(value, null, 2);

/** Docstrings use ``code``: show it as <code>. */
function docText(text) {
  return String(text ?? "").split("``").map((part, i) => (i % 2 ? el("code", {}, part) : part));
}

function errorLine(error) {
  return error instanceof RpcError ? `${error.code} ${error.message}` : String(error?.message ?? error);
}

function activity(text, kind = "info") {
  const list = $("#activity");
  list.prepend(el("li", { className: kind }, el("time", {}, clock()), " ", text));
  while (list.children.length > 200) list.lastChild.remove();
}

window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof RpcError) {
    event.preventDefault();
    activity(`unhandled: ${errorLine(event.reason)}`, "error");
  }
});

// Connection state ------------------------------------------------------------------

const STATE_TEXT = { connecting: "connecting…", open: "connected", reconnecting: "reconnecting…", closed: "closed" };
let countdown = null;

function showState({ state, delay, attempt }) {
  $("#state").dataset.state = state;
  clearInterval(countdown);
  const text = $("#state-text");
  text.textContent = STATE_TEXT[state] ?? state;
  if (state === "reconnecting" && delay !== undefined) {
    const due = Date.now() + delay;
    const tick = () => {
      const left = Math.max(0, (due - Date.now()) / 1000);
      text.textContent = left > 0.05 ? `retry ${attempt} in ${left.toFixed(1)} s` : `reconnecting (try ${attempt})…`;
      if (left <= 0) clearInterval(countdown);
    };
    tick();
    countdown = setInterval(tick, 100);
  }
}

rpc.on("state", (detail) => {
  showState(detail);
  const why = detail.reason ? ` (${detail.reason})` : detail.code ? ` (close code ${detail.code})` : "";
  if (detail.state === "open") {
    activity(detail.previous === "connecting" ? "connected" : "reconnected", "ok");
    if (detail.previous !== "connecting") refreshWho();
  } else if (detail.state === "reconnecting" && detail.previous === "open") {
    activity(`connection lost${why}`, "error");
    systemMessage("connection lost — reconnecting");
  } else {
    activity(`${detail.state}${why}${detail.delay !== undefined ? `, next try in ${detail.delay} ms` : ""}`);
  }
});
let opens = 0;
rpc.on("open", () => (opens += 1));
rpc.on("resubscribed", ({ topics }) => {
  if (opens < 2) return; // the first connection: nothing to renew yet
  activity(`subscriptions renewed: ${topics.join(", ")}`, "ok");
  for (const topic of topics.filter(isChatTopic)) systemMessage("reconnected — subscription renewed", topic);
});
rpc.on("unsubscribed", ({ topic, reason }) => {
  activity(`the server ended the subscription to ${topic}: ${reason}`, "error");
  if (isChatTopic(topic)) systemMessage(`unsubscribed from ${topic}: ${reason}`, topic);
});
showState({ state: rpc.state });

async function refreshWho() {
  try {
    const me = await rpc.call("whoami");
    const who = $("#who");
    if (me.authenticated) {
      who.replaceChildren("signed in as ", el("strong", {}, me.username));
      if (!localStorage.getItem("wsrpc-demo-name")) $("#chat-name").value = me.username;
    } else {
      who.replaceChildren("anonymous · ", el("a", { href: "/admin/login/?next=/" }, "log in"));
    }
  } catch (error) {
    activity(`whoami: ${errorLine(error)}`, "error");
  }
}

// Chat ----------------------------------------------------------------------------

const CLIENT = Math.random().toString(36).slice(2, 10);
const TOPICS = {
  "chat.lobby": { note: "Open to everyone: anyone may read and write.", items: [], unread: 0 },
  news: {
    note: "Anyone may read; only the staff group may publish. Try it to see the server refuse (-32003).",
    items: [],
    unread: 0,
  },
};
let current = "chat.lobby";
// The chat's tabs; the page subscribes to other topics too ("todos").
const isChatTopic = (topic) => Object.hasOwn(TOPICS, topic);

const nameInput = $("#chat-name");
nameInput.value = localStorage.getItem("wsrpc-demo-name") ?? `guest-${CLIENT.slice(0, 4)}`;
nameInput.addEventListener("change", () => localStorage.setItem("wsrpc-demo-name", nameInput.value.trim()));

function hue(text) {
  let h = 0;
  for (const char of text) h = (h * 31 + char.codePointAt(0)) % 360;
  return h;
}

function messageItem(item) {
  if (item.system) return el("li", { className: "system" }, el("span", {}, item.text));
  const author = String(item.author || "someone");
  return el(
    "li",
    { className: item.mine ? "message mine" : "message" },
    el("span", { className: "avatar", style: `--hue: ${hue(author)}`, ariaHidden: "true" }, author.slice(0, 1).toUpperCase()),
    el(
      "div",
      { className: "bubble" },
      el("div", { className: "meta" }, el("strong", {}, author), " ", el("time", {}, item.time)),
      el("div", { className: "body" }, String(item.text)),
    ),
  );
}

function renderMessages() {
  const list = $("#messages");
  const items = TOPICS[current].items;
  list.replaceChildren(...items.map(messageItem));
  if (!items.length) list.append(el("li", { className: "empty" }, `Nothing on ${current} yet. Say hello!`));
  list.scrollTop = list.scrollHeight;
}

function addItem(topic, item) {
  const state = TOPICS[topic];
  state.items.push(item);
  if (state.items.length > 200) state.items.shift();
  if (topic === current) {
    renderMessages();
  } else if (!item.system) {
    state.unread += 1;
    renderTabs();
  }
}

function systemMessage(text, topic = null) {
  for (const name of topic ? [topic] : Object.keys(TOPICS)) addItem(name, { system: true, text });
}

function renderTabs() {
  for (const tab of document.querySelectorAll(".tab")) {
    const topic = tab.dataset.topic;
    const selected = topic === current;
    tab.setAttribute("aria-selected", String(selected));
    const badge = tab.querySelector(".badge");
    badge.hidden = selected || !TOPICS[topic].unread;
    badge.textContent = TOPICS[topic].unread;
  }
  $("#topic-note").textContent = TOPICS[current].note;
}

function selectTopic(topic) {
  current = topic;
  TOPICS[topic].unread = 0;
  $("#chat-error").hidden = true;
  renderTabs();
  renderMessages();
}

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => selectTopic(tab.dataset.topic));
}

function onChatEvent(data, event) {
  const message = data && typeof data === "object" ? data : { text: String(data) };
  const time = message.sent ? clock(new Date(message.sent)) : clock();
  addItem(event.topic, { author: message.author, text: message.text ?? pretty(data), time, mine: message.client === CLIENT });
  activity(`event on ${event.topic}`);
}

for (const topic of Object.keys(TOPICS)) {
  rpc.subscribe(topic, onChatEvent).then(
    () => activity(`subscribed to ${topic}`, "ok"),
    (error) => systemMessage(`could not subscribe: ${errorLine(error)}`, topic),
  );
}

function showChatError(error) {
  const box = $("#chat-error");
  const explain = {
    [-32003]: `You may not publish to ${current}: only the staff group may. Log in as one of them in the admin.`,
    [-32029]: "Slow down: the server limits how fast one connection publishes.",
    [-32099]: "Not connected right now; try again in a moment.",
  };
  box.replaceChildren(
    el("strong", { className: "code" }, String(error.code ?? "error")),
    el("span", {}, ` ${error.message}. ${explain[error.code] ?? ""}`),
  );
  box.hidden = false;
}

$("#chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#chat-text");
  const text = input.value.trim();
  if (!text) return;
  $("#chat-error").hidden = true;
  const author = nameInput.value.trim() || "guest";
  try {
    await rpc.publish(current, { author, text, client: CLIENT, sent: new Date().toISOString() });
    input.value = "";
  } catch (error) {
    showChatError(error);
    activity(`publish to ${current}: ${errorLine(error)}`, "error");
  }
  input.focus();
});

renderTabs();
renderMessages();

// RPC playground ------------------------------------------------------------------

const EXAMPLES = {
  add: { a: 2, b: 3 },
  ask_browser: { question: "Are you there?" },
  "calc.divide": { a: 22, b: 7 },
  "calc.multiply": { a: 6, b: 7 },
  echo: { value: { hello: "world" } },
  slow_echo: { value: "patience", seconds: 1 },
  "rpc.publish": { topic: "chat.lobby", data: { author: "playground", text: "hello from the playground" } },
  "rpc.subscribe": { topic: "chat.lobby" },
  "rpc.unsubscribe": { topic: "chat.lobby" },
};
const SAMPLE = { integer: 1, number: 1.5, string: "text", boolean: true, array: [], object: {} };
const methods = new Map();

function sampleFor(schema = {}) {
  const type = schema.type ?? schema.anyOf?.[0]?.type;
  return type in SAMPLE ? SAMPLE[type] : null;
}

function signature(method) {
  const params = method.params.map((p) => (p.required ? p.name : `${p.name}?`));
  return `${method.name}(${params.join(", ")})`;
}

async function discover() {
  try {
    const doc = await rpc.call("rpc.discover");
    methods.clear();
    for (const method of doc.methods) methods.set(method.name, method);
    const select = $("#rpc-method");
    const previous = select.value || "add";
    const group = (label, list) => el("optgroup", { label }, ...list.map((m) => el("option", { value: m.name }, signature(m))));
    const all = [...methods.values()];
    select.replaceChildren(
      group("Demo methods", all.filter((m) => !m.name.startsWith("rpc."))),
      group("Built in", all.filter((m) => m.name.startsWith("rpc."))),
    );
    select.value = methods.has(previous) ? previous : all[0]?.name ?? "";
    describe(true);
  } catch (error) {
    activity(`rpc.discover: ${errorLine(error)}`, "error");
  }
}

function describe(fillParams) {
  const method = methods.get($("#rpc-method").value);
  if (!method) return;
  const doc = $("#rpc-doc");
  doc.replaceChildren(el("code", {}, signature(method)), " — ", ...docText(method.summary ?? ""));
  if (!fillParams) return;
  let params = EXAMPLES[method.name];
  if (params === undefined && method.params.length) {
    params = Object.fromEntries(method.params.filter((p) => p.required).map((p) => [p.name, sampleFor(p.schema)]));
  }
  $("#rpc-params").value = params === undefined ? "" : JSON.stringify(params);
}

$("#rpc-method").addEventListener("change", () => describe(true));

function showResult(title, ok, body, ms) {
  const box = $("#rpc-result");
  box.className = `result ${ok ? "ok" : "error"}`;
  box.replaceChildren(
    el("div", { className: "result-head" }, el("strong", {}, title), el("span", { className: "muted" }, ms === undefined ? "" : `${ms} ms`)),
    el("pre", {}, body),
  );
  box.hidden = false;
}

function showOutcome(label, started, outcome) {
  const ms = Math.round(performance.now() - started);
  if (!outcome.error) return showResult(`${label} → result`, true, pretty(outcome.result ?? null), ms);
  const { code, message, data } = outcome.error;
  const body = data === undefined ? message : `${message}\n\ndata: ${pretty(data)}`;
  return showResult(`${label} → error ${code ?? ""}`, false, body, ms);
}

async function runCall(method, paramsText, timeoutText) {
  let params;
  try {
    params = paramsText.trim() ? JSON.parse(paramsText) : undefined;
  } catch (error) {
    return showResult("Params are not valid JSON", false, String(error.message));
  }
  if (params !== undefined && (params === null || typeof params !== "object")) {
    return showResult("Params must be an array or an object", false, `got ${JSON.stringify(params)}`);
  }
  const options = timeoutText ? { timeout: Number(timeoutText) } : {};
  const started = performance.now();
  $("#rpc-call").disabled = true;
  try {
    showOutcome(method, started, { result: await rpc.call(method, params, options) });
  } catch (error) {
    showOutcome(method, started, { error });
  } finally {
    $("#rpc-call").disabled = false;
  }
}

$("#rpc-form").addEventListener("submit", (event) => {
  event.preventDefault();
  runCall($("#rpc-method").value, $("#rpc-params").value, $("#rpc-timeout").value);
});

for (const chip of document.querySelectorAll(".chip[data-method]")) {
  chip.addEventListener("click", () => {
    const { method, params = "", timeout = "" } = chip.dataset;
    const select = $("#rpc-method");
    if (!methods.has(method)) select.append(el("option", { value: method }, `${method} (not on the server)`));
    select.value = method;
    describe(false);
    if (!methods.has(method)) $("#rpc-doc").textContent = "Not a method of this server: expect -32601.";
    $("#rpc-params").value = params;
    $("#rpc-timeout").value = timeout;
    runCall(method, params, timeout);
  });
}

$("#rpc-batch").addEventListener("click", async () => {
  const entries = [["add", [1, 2]], ["calc.divide", [1, 0]], ["server_time"]];
  const started = performance.now();
  const outcomes = await rpc.batch(entries);
  const lines = outcomes.map((o, i) => `${entries[i][0]} → ${o.error ? `error ${o.error.code} ${o.error.message}` : JSON.stringify(o.result)}`);
  showResult("batch of 3, one frame", outcomes.every((o) => !o.error), lines.join("\n"), Math.round(performance.now() - started));
});

// The server calls the browser -------------------------------------------------------

const waiting = []; // open prompts, oldest first: {card, settle}

function logCall(direction, text, kind = "") {
  const log = $("#call-log");
  log.prepend(el("li", { className: kind }, el("time", {}, clock()), el("span", { className: "arrow" }, direction), text));
  while (log.children.length > 30) log.lastChild.remove();
}

function askPerson(question) {
  return new Promise((resolve, reject) => {
    const input = el("input", { value: "", placeholder: "Your answer", ariaLabel: "Your answer", required: true });
    const elapsed = el("span", { className: "muted" }, "0 s");
    const started = Date.now();
    const timer = setInterval(() => (elapsed.textContent = `${Math.round((Date.now() - started) / 1000)} s`), 1000);
    const decline = el("button", { type: "button", className: "secondary" }, "Decline");
    const form = el("form", { className: "prompt-form" }, input, el("button", { type: "submit", className: "primary" }, "Reply"), decline);
    const card = el(
      "div",
      { className: "prompt", role: "dialog", ariaLabel: "The server asks" },
      el("div", { className: "prompt-head" }, el("span", {}, "The server asks"), elapsed),
      el("p", { className: "prompt-question" }, question),
      form,
    );
    const entry = { card };
    const close = () => {
      clearInterval(timer);
      card.remove();
      waiting.splice(waiting.indexOf(entry), 1);
    };
    entry.settle = (error) => (close(), reject(error));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      close();
      resolve(input.value);
    });
    decline.addEventListener("click", () => entry.settle(new RpcError("The person at the browser declined to answer", { data: { question } })));
    waiting.push(entry);
    $("#prompts").append(card);
    input.focus();
  });
}

const AUTO_ANSWERS = ["Blue.", "Blue. No, yellow!", "42", "Yes, I am here.", "Ask me later."];

rpc.expose("answer", async (question) => {
  logCall("⇠", `server called answer(${JSON.stringify(question)})`, "in");
  if ($("#auto-answer").checked) {
    const reply = AUTO_ANSWERS[Math.floor(Math.random() * AUTO_ANSWERS.length)];
    await new Promise((resolve) => setTimeout(resolve, 300));
    logCall("⇢", `browser answered ${JSON.stringify(reply)} automatically`, "out");
    return reply;
  }
  try {
    const reply = await askPerson(String(question));
    logCall("⇢", `you answered ${JSON.stringify(reply)}`, "out");
    return reply;
  } catch (error) {
    const expired = error.code === -32008 || error.code === -32099;
    logCall("⇢", expired ? "the question expired unanswered" : `you declined: the server gets error ${error.code}`, "out error");
    throw error;
  }
});

$("#ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = $("#ask-question").value.trim();
  if (!question) return;
  logCall("→", `you called ask_browser(${JSON.stringify(question)})`);
  try {
    const result = await rpc.call("ask_browser", { question }, { timeout: null });
    logCall("←", `ask_browser returned ${JSON.stringify(result)}`, "ok");
  } catch (error) {
    logCall("←", `ask_browser failed: ${errorLine(error)}`, "error");
    // The server stopped waiting (or the connection dropped): its question is moot.
    if (error.code === -32008 || error.code === -32099) waiting[0]?.settle(error);
  }
});

// Shared to-do list: a model whose changes an observer publishes to "todos" ------------

let todos = new Map(); // id -> the item as /api/todos/ gives it
let touched = null; // ids changed by events while the list loads

function csrfHeader() {
  const token = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return token ? { "X-CSRFToken": decodeURIComponent(token[1]) } : {};
}

async function todoApi(method, path = "", body = undefined) {
  const response = await fetch(`/api/todos/${path}`, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...csrfHeader() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} /api/todos/${path}: ${response.status} ${response.statusText}`);
  return response.status === 204 ? null : response.json();
}

function showTodoError(error) {
  const box = $("#todo-error");
  box.textContent = String(error?.message ?? error);
  box.hidden = false;
}

function todoItem(item) {
  const box = el("input", { type: "checkbox", id: `todo-${item.id}`, checked: item.done });
  box.addEventListener("change", () => todoApi("PATCH", `${item.id}/`, { done: box.checked }).catch(showTodoError));
  const remove = el("button", { type: "button", ariaLabel: `Remove ${item.title}`, title: "Remove" }, "✕");
  remove.addEventListener("click", () => todoApi("DELETE", `${item.id}/`).catch(showTodoError));
  const label = el("label", { htmlFor: `todo-${item.id}` }, item.title);
  return el("li", { className: item.done ? "todo done" : "todo", dataset: { id: item.id } }, box, label, remove);
}

function renderTodos() {
  const list = $("#todo-list");
  const items = [...todos.values()];
  list.replaceChildren(...items.map(todoItem));
  if (!items.length) list.append(el("li", { className: "empty" }, "Nothing to do. Add something!"));
}

function onTodoChange(change) {
  touched?.add(change.pk);
  if (change.action === "deleted") todos.delete(change.pk);
  else todos.set(change.pk, change.data);
  renderTodos();
  activity(`todos: ${change.action} #${change.pk}`);
}

async function loadTodos() {
  touched = new Set();
  try {
    const fresh = new Map((await todoApi("GET")).map((item) => [item.id, item]));
    // An event that came while the list loaded is at least as new as the list.
    for (const id of touched) {
      if (todos.has(id)) fresh.set(id, todos.get(id));
      else fresh.delete(id);
    }
    todos = fresh;
    renderTodos();
  } catch (error) {
    showTodoError(error);
  } finally {
    touched = null;
  }
}

rpc.subscribe("todos", onTodoChange).then(
  () => {
    activity("subscribed to todos", "ok");
    loadTodos();
  },
  (error) => showTodoError(`could not subscribe to todos: ${errorLine(error)}`),
);
rpc.on("resubscribed", ({ topics }) => topics.includes("todos") && opens > 1 && loadTodos()); // changes missed while away

$("#todo-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#todo-title");
  const title = input.value.trim();
  if (!title) return;
  $("#todo-error").hidden = true;
  try {
    await todoApi("POST", "", { title });
    input.value = ""; // the item itself arrives as an event, as on every other page
  } catch (error) {
    showTodoError(error);
  }
  input.focus();
});

renderTodos();

// Start ---------------------------------------------------------------------------

rpc.connected().then(() => {
  refreshWho();
  discover();
}, () => {});
