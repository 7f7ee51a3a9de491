// The memvault inspector: a small client of memvault's HTTP API (the Foundry face under
// /api/projects/{project}). Everything it shows is user data and goes into the page as text
// (text nodes and attribute values), never as HTML.

const KEY_STORAGE = "memvault.apiKey";
const PAGE_SIZE = 50;
const SEARCH_LIMIT = 20;
const KIND_LABELS = {
  user_profile: "user profile",
  chat_summary: "chat summary",
  procedural: "procedural",
};

const $ = (id) => document.getElementById(id);

const state = { project: "default", store: null, scope: null };
// Each list counts its loads: a response that arrives after a newer load started is dropped.
const loads = { stores: 0, scopes: 0, memories: 0 };
// The current store's scopes: scope -> {summary, item}.
const scopes = new Map();

// -- the DOM, built from text only ---------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function formatTime(seconds) {
  if (!seconds) return "unknown time";
  return new Date(seconds * 1000).toLocaleString(undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

const countMemories = (count) => plural(count, "memory", "memories");

function preview(text, length = 80) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function say(message, { error = false } = {}) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", error);
}

function sayError(error) {
  say(error.message, { error: true });
}

function setHint(id, message) {
  const hint = $(id);
  hint.textContent = message;
  hint.hidden = !message;
}

function setMore(id, onClick) {
  const button = $(id);
  button.hidden = !onClick;
  button.onclick = onClick || null;
}

// -- the API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

let keyPrompt = null;

async function api(path, { method = "GET", query, body } = {}) {
  let url = path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null) params.set(name, value);
  }
  if ([...params].length) url += `?${params}`;
  for (;;) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.Authorization = `Bearer ${key}`;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError("The server cannot be reached.", 0);
    }
    if (response.status === 401) {
      if (await askForKey(key ? "That key was not accepted. Try another one." : "")) continue;
      throw new ApiError("This server needs an API key.", 401);
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      // Not JSON: the status says enough.
    }
    if (!response.ok) {
      const message = data?.error?.message || `${response.status} ${response.statusText}`;
      throw new ApiError(message, response.status);
    }
    return data;
  }
}

const enc = encodeURIComponent;
const projectPath = () => `/api/projects/${enc(state.project)}`;
const storePath = () => `${projectPath()}/memory_stores/${enc(state.store)}`;

// -- dialogs -------------------------------------------------------------------------------

// One prompt at a time: requests that meet a 401 together wait for the same answer.
function askForKey(message) {
  keyPrompt ??= new Promise((resolve) => {
    const dialog = $("key-dialog");
    const input = $("api-key");
    const error = $("key-error");
    error.textContent = message;
    error.hidden = !message;
    input.value = "";
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      () => {
        const key = input.value.trim();
        input.value = "";
        keyPrompt = null;
        const saved = dialog.returnValue === "save" && key !== "";
        if (saved) sessionStorage.setItem(KEY_STORAGE, key);
        showKeyButton();
        resolve(saved);
      },
      { once: true },
    );
    dialog.showModal();
  });
  return keyPrompt;
}

// Resolves true only when the user presses the dialog's delete button (Escape cancels).
function confirmDelete(title, text, action) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = action;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), {
      once: true,
    });
    dialog.showModal();
  });
}

function showKeyButton() {
  $("forget-key").hidden = !sessionStorage.getItem(KEY_STORAGE);
}

// -- stores --------------------------------------------------------------------------------

async function loadStores(after) {
  const load = ++loads.stores;
  if (!after) {
    $("stores").replaceChildren();
    setHint("stores-hint", "Loading…");
    setMore("more-stores", null);
  }
  let page;
  try {
    page = await api(`${projectPath()}/memory_stores`, {
      query: { limit: PAGE_SIZE, order: "asc", after },
    });
  } catch (error) {
    if (load === loads.stores) setHint("stores-hint", error.message);
    return;
  }
  if (load !== loads.stores) return;
  $("stores").append(...page.data.map(storeItem));
  const empty = $("stores").children.length === 0;
  setHint("stores-hint", empty ? `No memory stores in project “${state.project}”.` : "");
  setMore("more-stores", page.has_more && (() => loadStores(page.last_id)));
}

function storeItem(store) {
  return el(
    "li",
    {},
    el(
      "button",
      {
        type: "button",
        class: "pick",
        "data-store": store.name,
        "aria-current": store.name === state.store ? "true" : null,
        onclick: () => selectStore(store.name),
      },
      el("span", { class: "pick-name" }, store.name),
      store.description ? el("span", { class: "pick-detail" }, store.description) : null,
    ),
  );
}

function markCurrent(listId, attribute, value) {
  for (const button of $(listId).querySelectorAll("button.pick")) {
    if (button.getAttribute(attribute) === value) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

function selectStore(name) {
  state.store = name;
  state.scope = null;
  markCurrent("stores", "data-store", name);
  clearMemories("Choose a scope.");
  saveLocation();
  loadScopes();
}

// -- scopes --------------------------------------------------------------------------------

async function loadScopes(after) {
  const load = ++loads.scopes;
  if (!after) {
    scopes.clear();
    $("scopes").replaceChildren();
    setHint("scopes-hint", "Loading…");
    setMore("more-scopes", null);
  }
  let page;
  try {
    page = await api(`${storePath()}/scopes`, { query: { limit: PAGE_SIZE, after } });
  } catch (error) {
    if (load === loads.scopes) setHint("scopes-hint", error.message);
    return;
  }
  if (load !== loads.scopes) return;
  for (const summary of page.data) {
    const item = scopeItem(summary);
    scopes.set(summary.scope, { summary, item });
    $("scopes").append(item);
  }
  setHint("scopes-hint", scopes.size ? "" : `No memories in store “${state.store}” yet.`);
  setMore("more-scopes", page.has_more && (() => loadScopes(page.last_id)));
}

function scopeItem(summary) {
  const quarantined = summary.quarantined_count;
  return el(
    "li",
    {},
    el(
      "button",
      {
        type: "button",
        class: "pick",
        "data-scope": summary.scope,
        "aria-current": summary.scope === state.scope ? "true" : null,
        onclick: () => selectScope(summary.scope),
      },
      el("span", { class: "pick-name" }, summary.scope),
      el(
        "span",
        { class: "pick-detail" },
        countMemories(summary.memory_count),
        quarantined ? ` · ${quarantined} quarantined` : null,
      ),
    ),
  );
}

function changeScopeCount(scope, delta) {
  const entry = scopes.get(scope);
  if (!entry) return;
  const summary = { ...entry.summary, memory_count: entry.summary.memory_count + delta };
  const item = scopeItem(summary);
  entry.item.replaceWith(item);
  scopes.set(scope, { summary, item });
}

function selectScope(scope) {
  state.scope = scope;
  markCurrent("scopes", "data-scope", scope);
  $("memories-heading").textContent = `Memories in “${scope}”`;
  $("delete-scope").hidden = false;
  $("search-form").hidden = false;
  $("search").value = "";
  saveLocation();
  loadMemories();
}

async function deleteScope() {
  const { scope, store } = state;
  const summary = scopes.get(scope)?.summary;
  const count = summary ? summary.memory_count + summary.quarantined_count : null;
  const what = count === null ? "Every memory" : `All ${countMemories(count)}`;
  const confirmed = await confirmDelete(
    "Delete this scope?",
    `${what} of scope “${scope}” in store “${store}”, and any memory entries it holds, ` +
      "will be deleted, and its pending updates cancelled. This cannot be undone.",
    "Delete scope",
  );
  if (!confirmed) {
    say("Nothing was deleted.");
    return;
  }
  let result;
  try {
    result = await api(`${storePath()}:delete_scope`, { method: "POST", body: { scope } });
  } catch (error) {
    sayError(error);
    return;
  }
  scopes.get(scope)?.item.remove();
  scopes.delete(scope);
  if (state.scope === scope) {
    state.scope = null;
    clearMemories("Choose a scope.");
    saveLocation();
  }
  if (!scopes.size) setHint("scopes-hint", `No memories in store “${store}” yet.`);
  say(`Deleted scope “${scope}”: ${result.deleted_count} removed.`);
  $("scopes-heading").focus();
}

// -- memories ------------------------------------------------------------------------------

function clearMemories(hint) {
  loads.memories++;
  $("memories-heading").textContent = "Memories";
  $("memories").replaceChildren();
  $("delete-scope").hidden = true;
  $("search-form").hidden = true;
  $("clear-search").hidden = true;
  setHint("memories-hint", hint);
  setMore("more-memories", null);
}

async function loadMemories(after) {
  const load = ++loads.memories;
  if (!after) {
    $("memories").replaceChildren();
    $("clear-search").hidden = true;
    setHint("memories-hint", "Loading…");
    setMore("more-memories", null);
  }
  let page;
  try {
    page = await api(`${storePath()}/items:list`, {
      method: "POST",
      query: { limit: PAGE_SIZE, order: "desc", after },
      body: { scope: state.scope },
    });
  } catch (error) {
    if (load === loads.memories) setHint("memories-hint", error.message);
    return;
  }
  if (load !== loads.memories) return;
  $("memories").append(...page.data.map((memory) => memoryItem(memory)));
  const empty = $("memories").children.length === 0;
  setHint("memories-hint", empty ? "No memories in this scope." : "");
  setMore("more-memories", page.has_more && (() => loadMemories(page.last_id)));
}

async function search(query) {
  if (!query.trim()) {
    loadMemories();
    return;
  }
  const load = ++loads.memories;
  $("memories").replaceChildren();
  setHint("memories-hint", "Searching…");
  setMore("more-memories", null);
  let result;
  try {
    result = await api(`${storePath()}:search_memories`, {
      method: "POST",
      body: {
        scope: state.scope,
        items: [{ type: "message", role: "user", content: query }],
        options: { max_memories: SEARCH_LIMIT },
      },
    });
  } catch (error) {
    if (load === loads.memories) setHint("memories-hint", error.message);
    return;
  }
  if (load !== loads.memories) return;
  const hits = result.memories;
  $("memories").append(...hits.map((hit) => memoryItem(hit.memory_item, hit.score)));
  $("clear-search").hidden = false;
  setHint(
    "memories-hint",
    hits.length
      ? `${countMemories(hits.length)} relevant to “${query}”, most relevant first.`
      : `No memory is relevant to “${query}”.`,
  );
}

function author(name) {
  if (!name) return "unknown";
  return name.startsWith("upd_") ? `update ${name}` : name;
}

function provenance(memory) {
  const extra = memory.memvault || {};
  const facts = [["Created", `${formatTime(extra.created_at)} by ${author(extra.created_by)}`]];
  if ((extra.version || 1) > 1) {
    facts.push(["Changed", `${formatTime(memory.updated_at)} by ${author(extra.updated_by)}`]);
  }
  if (extra.expires_at) facts.push(["Expires", formatTime(extra.expires_at)]);
  const sources = extra.source || [];
  return [
    el(
      "dl",
      { class: "provenance" },
      facts.map(([term, detail]) => [el("dt", {}, term), el("dd", {}, detail)]),
    ),
    sources.length
      ? el(
          "details",
          { class: "sources" },
          el("summary", {}, `Drawn from ${plural(sources.length, "message")}`),
          el(
            "ol",
            {},
            sources.map((source) =>
              el(
                "li",
                {},
                el("span", { class: "role" }, source.role || "message"),
                el("span", { class: "source-text" }, source.text || ""),
                source.update_id ? el("span", { class: "source-update" }, source.update_id) : null,
              ),
            ),
          ),
        )
      : null,
  ];
}

function memoryItem(memory, score) {
  const extra = memory.memvault || {};
  const historyId = `history-${memory.memory_id}`;
  const history = el("div", { id: historyId, class: "history", hidden: true });
  const historyButton = el(
    "button",
    {
      type: "button",
      "aria-expanded": "false",
      "aria-controls": historyId,
      onclick: () => toggleHistory(memory, historyButton, history),
    },
    "History",
  );
  const item = el(
    "li",
    { class: "memory", "data-memory-id": memory.memory_id },
    el(
      "div",
      { class: "memory-meta" },
      el("span", { class: `kind kind-${memory.kind}` }, KIND_LABELS[memory.kind] || memory.kind),
      el("span", { class: "version" }, `version ${extra.version || 1}`),
      score === undefined ? null : el("span", { class: "score" }, `relevance ${score.toFixed(3)}`),
    ),
    el("p", { class: "content" }, memory.content),
    provenance(memory),
    el(
      "div",
      { class: "memory-actions" },
      historyButton,
      el(
        "button",
        { type: "button", class: "danger", onclick: () => deleteMemory(memory, item) },
        "Delete…",
      ),
    ),
    history,
  );
  return item;
}

async function toggleHistory(memory, button, box) {
  if (button.getAttribute("aria-expanded") === "true") {
    button.setAttribute("aria-expanded", "false");
    box.hidden = true;
    return;
  }
  button.setAttribute("aria-expanded", "true");
  box.hidden = false;
  box.replaceChildren(el("p", { class: "hint" }, "Loading history…"));
  let result;
  try {
    result = await api(`${storePath()}/items/${enc(memory.memory_id)}/history`);
  } catch (error) {
    box.replaceChildren(el("p", { class: "error" }, error.message));
    return;
  }
  const version = memory.memvault?.version || 1;
  box.replaceChildren(
    el("h3", {}, "History"),
    result.data.length
      ? el(
          "ol",
          { class: "versions" },
          result.data.map((revision) =>
            el(
              "li",
              {},
              el(
                "span",
                { class: "version-label" },
                `version ${revision.version}, written ${formatTime(revision.changed_at)}` +
                  ` by ${author(revision.changed_by)}`,
              ),
              el("p", { class: "content" }, revision.content),
            ),
          ),
          el(
            "li",
            { class: "current" },
            el("span", { class: "version-label" }, `version ${version} (current)`),
            el("p", { class: "content" }, memory.content),
          ),
        )
      : el("p", { class: "hint" }, "No earlier versions: this memory has not changed."),
  );
}

async function deleteMemory(memory, item) {
  const scope = state.scope;
  const confirmed = await confirmDelete(
    "Delete this memory?",
    `“${preview(memory.content)}” will be deleted from scope “${scope}”, with its history. ` +
      "This cannot be undone.",
    "Delete memory",
  );
  if (!confirmed) {
    say("Nothing was deleted.");
    return;
  }
  try {
    await api(`${storePath()}/items/${enc(memory.memory_id)}`, { method: "DELETE" });
  } catch (error) {
    sayError(error);
    return;
  }
  item.remove();
  changeScopeCount(scope, -1);
  if (!$("memories").children.length) setHint("memories-hint", "No memories left here.");
  say("Memory deleted.");
  $("memories-heading").focus();
}

// -- where we are: #project=…&store=…&scope=… ---------------------------------------------

function saveLocation() {
  const params = new URLSearchParams({ project: state.project });
  if (state.store) params.set("store", state.store);
  if (state.scope) params.set("scope", state.scope);
  history.replaceState(null, "", `#${params}`);
}

function openProject(project) {
  state.project = project;
  state.store = null;
  state.scope = null;
  $("project").value = project;
  $("scopes").replaceChildren();
  scopes.clear();
  setHint("scopes-hint", "Choose a memory store.");
  setMore("more-scopes", null);
  clearMemories("Choose a scope.");
  loadStores();
}

function start() {
  const params = new URLSearchParams(location.hash.slice(1));
  openProject(params.get("project") || "default");
  const store = params.get("store");
  if (store) {
    selectStore(store);
    const scope = params.get("scope");
    if (scope) selectScope(scope);
  }
  saveLocation();
  showKeyButton();

  $("project-form").addEventListener("submit", (event) => {
    event.preventDefault();
    openProject($("project").value.trim() || "default");
    saveLocation();
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search($("search").value);
  });
  $("clear-search").addEventListener("click", () => {
    $("search").value = "";
    loadMemories();
  });
  $("delete-scope").addEventListener("click", deleteScope);
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close("cancel"));
  $("key-cancel").addEventListener("click", () => $("key-dialog").close("cancel"));
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    showKeyButton();
    say("The API key is forgotten; the next request will ask for one.");
  });
}

start();
