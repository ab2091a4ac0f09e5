// Centrale web admin: a dependency-free page over the REST API (/api/v1).
// Tenant admins: licences, users and their devices, plugin toggles and
// settings (forms generated from each plugin's JSON Schema), the call log,
// private plugin upload. Users: voicemail, forwarding, do-not-disturb.
"use strict";

const API = "/api/v1";
const state = { token: sessionStorage.getItem("centrale.token") || "", me: null, lang: localStorage.getItem("centrale.lang") || "en" };

const t = (k) => (I18N[state.lang] && I18N[state.lang][k]) || I18N.en[k] || k;
const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c.nodeType ? c : document.createTextNode(String(c)));
  return e;
}

function status(msg, bad = false) {
  const s = $("#status");
  s.textContent = msg;
  s.className = bad ? "error" : "";
  clearTimeout(status.timer);
  status.timer = setTimeout(() => { s.textContent = ""; }, 4000);
}

async function api(method, path, body, raw = false) {
  const headers = { Authorization: `Bearer ${state.token}` };
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) payload = body;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const r = await fetch(API + path, { method, headers, body: payload });
  if (!r.ok) {
    let msg = `${r.status}`;
    try { const j = await r.json(); msg = j.error + (j.field ? ` (${j.field})` : ""); } catch (_) {}
    const err = new Error(msg); err.status = r.status; throw err;
  }
  if (raw) return r;
  return r.status === 204 ? null : r.json();
}

function fail(e) { status(`${t("error")}: ${e.message}`, true); }

// ---------- settings forms from JSON Schema ----------
function schemaForm(schema, value, prefix = "") {
  const props = (schema && schema.properties) || {};
  const out = [];
  for (const [name, s] of Object.entries(props)) {
    const id = `f-${prefix}${name}`;
    const v = value ? value[name] : undefined;
    const stored = v !== undefined && s.type !== "object" ? true : undefined;
    const label = s.description ? `${name} — ${s.description}` : name;
    if (s.type === "object") {
      out.push(el("fieldset", {}, el("legend", { text: name }), schemaForm(s, v || {}, `${prefix}${name}.`)));
    } else if (s.type === "boolean") {
      out.push(el("label", { for: id }, el("input", { id, type: "checkbox", "data-path": prefix + name, "data-type": "boolean", "data-stored": stored, checked: v === true }), " ", label));
    } else if (Array.isArray(s.enum)) {
      const sel = el("select", { id, "data-path": prefix + name, "data-type": "enum", "data-stored": stored }, el("option", { value: "", text: "—" }), s.enum.map((o) => el("option", { value: o, text: o, selected: v === o })));
      out.push(el("label", { for: id }, el("span", { text: label }), sel));
    } else if (s.type === "integer" || s.type === "number") {
      out.push(el("label", { for: id }, el("span", { text: label }), el("input", { id, type: "number", "data-path": prefix + name, "data-type": s.type, "data-stored": stored, value: v ?? "", min: s.minimum, max: s.maximum })));
    } else if (s.type === "array") {
      out.push(el("label", { for: id }, el("span", { text: `${label} (JSON)` }), el("textarea", { id, rows: 3, "data-path": prefix + name, "data-type": "json", "data-stored": stored }, v ? JSON.stringify(v) : "")));
    } else {
      out.push(el("label", { for: id }, el("span", { text: label }), el("input", { id, type: "text", "data-path": prefix + name, "data-type": "string", "data-stored": stored, value: v ?? "" })));
    }
  }
  return out;
}

// Only fields that were stored or that the admin touched are sent, so a
// plugin's own defaults (e.g. a boolean that defaults to true) stay in force.
function trackChanges(root) {
  for (const input of root.querySelectorAll("[data-path]")) {
    const mark = () => { input.dataset.dirty = "1"; };
    input.addEventListener("input", mark);
    input.addEventListener("change", mark);
  }
  return root;
}

function readForm(root) {
  const value = {};
  for (const input of root.querySelectorAll("[data-path]")) {
    if (!input.dataset.dirty && !input.hasAttribute("data-stored")) continue;
    const path = input.dataset.path.split(".");
    let v;
    switch (input.dataset.type) {
      case "boolean": v = input.checked; break;
      case "integer": if (input.value === "") continue; v = parseInt(input.value, 10); break;
      case "number": if (input.value === "") continue; v = Number(input.value); break;
      case "json": if (input.value.trim() === "") continue; v = JSON.parse(input.value); break;
      default: if (input.value === "") continue; v = input.value;
    }
    let o = value;
    for (const p of path.slice(0, -1)) o = o[p] = o[p] || {};
    o[path[path.length - 1]] = v;
  }
  return value;
}

// ---------- views ----------
async function licences(view) {
  const [lic, catalogue] = await Promise.all([api("GET", "/licences"), api("GET", "/plugins")]);
  const names = Object.fromEntries(catalogue.map((p) => [p.id, p]));
  view.append(el("h2", { text: t("lic.title") }), el("table", {},
    el("thead", {}, el("tr", {}, ["lic.plugin", "lic.used", "lic.total", "lic.scope"].map((k) => el("th", { text: t(k) })))),
    el("tbody", {}, lic.map((l) => el("tr", { "data-plugin": l.plugin_id },
      el("td", {}, (names[l.plugin_id] && names[l.plugin_id].name) || l.plugin_id),
      el("td", { class: "used" }, `${l.used}`),
      el("td", { class: "total" }, `${l.quantity}`),
      el("td", {}, (names[l.plugin_id] && names[l.plugin_id].licence_scope) || "")))))); 
}

async function users(view) {
  const list = await api("GET", "/users");
  const form = el("form", { class: "card", id: "add-user" },
    el("h3", { text: t("users.add") }),
    el("label", {}, el("span", { text: t("users.ext") }), el("input", { name: "extension", type: "text", required: true, pattern: "[0-9]{2,8}" })),
    el("label", {}, el("span", { text: t("users.name") }), el("input", { name: "display_name", type: "text", required: true })),
    el("label", {}, el("span", { text: t("users.email") }), el("input", { name: "email", type: "email" })),
    el("label", {}, el("span", { text: t("users.numbers") }), el("input", { name: "numbers", type: "text" })),
    el("button", { type: "submit", text: t("users.create") }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    try {
      await api("POST", "/users", { extension: f.get("extension"), display_name: f.get("display_name"), email: f.get("email") || "", numbers: (f.get("numbers") || "").split(",").map((s) => s.trim()).filter(Boolean) });
      status(t("saved")); route();
    } catch (e) { fail(e); }
  });
  view.append(el("h2", { text: t("users.title") }), el("table", {},
    el("thead", {}, el("tr", {}, ["users.ext", "users.name", "users.email", "users.numbers", ""].map((k) => el("th", { text: k ? t(k) : "" })))),
    el("tbody", {}, list.map((u) => el("tr", {},
      el("td", {}, el("a", { href: `#/users/${u.id}`, text: u.extension })),
      el("td", { text: u.display_name }), el("td", { text: u.email || "" }), el("td", { text: (u.numbers || []).join(", ") }),
      el("td", {}, el("button", { type: "button", class: "danger", "aria-label": `${t("users.delete")} ${u.extension}`, onclick: async () => {
        if (!confirm(`${t("users.delete")} ${u.extension}?`)) return;
        try { await api("DELETE", `/users/${u.id}`); status(t("deleted")); route(); } catch (e) { fail(e); }
      } }, t("users.delete"))))))), form);
}

async function user(view, id) {
  const [u, assignments, catalogue, lic, devices] = await Promise.all([
    api("GET", `/users/${id}`), api("GET", `/users/${id}/plugins`), api("GET", "/plugins"), api("GET", "/licences"), api("GET", `/users/${id}/devices`)]);
  const byId = Object.fromEntries(assignments.map((a) => [a.plugin_id, a]));
  const licensed = Object.fromEntries(lic.map((l) => [l.plugin_id, l]));
  view.append(el("h2", {}, `${u.extension} — ${u.display_name}`));
  const numbers = el("input", { id: "numbers", type: "text", value: (u.numbers || []).join(", ") });
  view.append(el("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api("PUT", `/users/${id}/numbers`, { numbers: numbers.value.split(",").map((x) => x.trim()).filter(Boolean) });
      status(t("saved"));
    } catch (e) { fail(e); }
  } }, el("label", { for: "numbers" }, el("span", { text: t("users.numbers") }), numbers), el("button", { type: "submit", text: t("user.save") })));
  const services = el("section", { class: "card", "aria-labelledby": "svc" }, el("h3", { id: "svc", text: t("user.plugins") }));
  for (const p of catalogue) {
    const a = byId[p.id] || { enabled: false, settings: {} };
    const cbId = `on-${p.id}`;
    const box = el("div", { class: "plugin", "data-plugin": p.id },
      el("h4", {}, p.name, " ", el("span", { class: "muted caps", text: `${p.id} ${p.version}` })),
      el("p", { class: "muted", text: p.description || "" }),
      licensed[p.id] ? null : el("p", { class: "muted", text: t("user.no-licence") }),
      el("label", { for: cbId }, el("input", { id: cbId, type: "checkbox", name: "enabled", checked: !!a.enabled, disabled: !licensed[p.id] }), " ", t("user.enabled")));
    const form = trackChanges(el("form", { "aria-label": `${p.name} ${t("user.settings")}` }, p.settings_schema ? schemaForm(p.settings_schema, a.settings, `${p.id}:`) : []));
    const save = el("button", { type: "button", text: t("user.save"), disabled: !licensed[p.id], onclick: async () => {
      try {
        const settings = {};
        const raw = readForm(form);
        for (const [k, v] of Object.entries(raw)) settings[k.replace(`${p.id}:`, "")] = v;
        await api("PUT", `/users/${id}/plugins/${p.id}`, { enabled: $(`#${CSS.escape(cbId)}`).checked, settings });
        status(t("saved"));
      } catch (e) { fail(e); }
    } });
    box.append(form, save);
    services.append(box);
  }
  const devForm = el("form", {}, el("label", {}, el("span", { text: t("user.device.username") }), el("input", { name: "username", type: "text", required: true })),
    el("label", {}, el("span", { text: t("user.device.password") }), el("input", { name: "password", type: "password", required: true, autocomplete: "new-password" })),
    el("button", { type: "submit", text: t("user.device.add") }));
  devForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(devForm);
    try { await api("POST", `/users/${id}/devices`, { username: f.get("username"), password: f.get("password") }); status(t("saved")); route(); } catch (e) { fail(e); }
  });
  const devs = el("section", { class: "card" }, el("h3", { text: t("user.devices") }),
    el("ul", {}, devices.map((d) => el("li", {}, d.username, " ", el("button", { type: "button", class: "secondary", onclick: async () => {
      try { await api("DELETE", `/users/${id}/devices/${d.id}`); status(t("deleted")); route(); } catch (e) { fail(e); }
    } }, t("users.delete"))))), devForm);
  const greeting = el("form", { class: "card", id: "admin-greeting" },
    el("h3", { text: t("me.voicemail") }),
    el("label", {}, el("span", { text: t("me.greeting") }), el("input", { name: "wav", type: "file", accept: ".wav,audio/wav", required: true })),
    el("button", { type: "submit", text: t("me.upload") }));
  greeting.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = new FormData(greeting).get("wav");
    try { await api("PUT", `/users/${id}/voicemail/greeting`, file); status(t("saved")); } catch (e) { fail(e); }
  });
  view.append(services, devs, greeting);
}

async function schedules(view) {
  const list = await api("GET", "/schedules");
  const example = '{"time_zone_offset_minutes": 60, "periods": [{"weekday": 1, "from": "09:00", "to": "17:00"}], "holidays": ["2026-12-25"]}';
  view.append(el("h2", { text: t("sch.title") }), el("p", { class: "muted", text: t("sch.help") }));
  const editor = (name, value, isNew) => {
    const nameInput = isNew ? el("input", { type: "text", name: "name", required: true, pattern: "[a-z0-9-]{1,64}", value: "business-hours" }) : null;
    const area = el("textarea", { rows: 4, cols: 70, name: "schedule", "aria-label": `${t("sch.schedule")} ${name || ""}` }, value);
    const form = el("form", { class: "card", "data-schedule": name || "" },
      el("h3", { text: name || t("sch.add") }),
      isNew ? el("label", {}, el("span", { text: t("sch.name") }), nameInput) : null,
      el("label", {}, el("span", { text: t("sch.schedule") }), area),
      el("button", { type: "submit", text: t("user.save") }), " ",
      isNew ? null : el("button", { type: "button", class: "danger", onclick: async () => {
        try { await api("DELETE", `/schedules/${encodeURIComponent(name)}`); status(t("deleted")); route(); } catch (e) { fail(e); }
      } }, t("users.delete")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      let body;
      try { body = JSON.parse(area.value); } catch (e) { status(`${t("error")}: JSON: ${e.message}`, true); return; }
      const n = isNew ? nameInput.value : name;
      try { await api("PUT", `/schedules/${encodeURIComponent(n)}`, body); status(t("saved")); route(); } catch (e) { fail(e); }
    });
    return form;
  };
  for (const sc of list) view.append(el("p", {}, `${sc.name}: `, el("strong", { text: sc.open ? t("sch.open") : t("sch.closed") })), editor(sc.name, JSON.stringify(sc.schedule), false));
  view.append(editor(null, example, true));
}

async function calls(view) {
  const list = await api("GET", "/cdrs?limit=100");
  const fmt = (ms) => (ms ? new Date(ms).toLocaleString(state.lang) : "");
  view.append(el("h2", { text: t("calls.title") }), el("table", {},
    el("thead", {}, el("tr", {}, ["calls.time", "calls.caller", "calls.callee", "calls.result", "calls.code", "calls.duration"].map((k) => el("th", { text: t(k) })))),
    el("tbody", {}, list.map((c) => el("tr", {}, el("td", { text: fmt(c.started_at) }), el("td", { text: c.caller }), el("td", { text: c.callee }),
      el("td", { text: c.result }), el("td", { text: String(c.sip_code) }),
      el("td", { text: c.answered_at ? `${Math.round((c.ended_at - c.answered_at) / 1000)} ${t("seconds")}` : "" }))))));
}

async function upload(view) {
  const out = el("div", { "aria-live": "polite" });
  const form = el("form", { class: "card" }, el("h2", { text: t("upload.title") }),
    el("label", {}, el("span", { text: t("upload.manifest") }), el("input", { name: "manifest", type: "file", accept: ".toml", required: true })),
    el("label", {}, el("span", { text: t("upload.component") }), el("input", { name: "component", type: "file", accept: ".wasm", required: true })),
    el("button", { type: "submit", text: t("upload.submit") }), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.textContent = "";
    const f = new FormData(form);
    try {
      const manifest = await f.get("manifest").text();
      const bytes = new Uint8Array(await f.get("component").arrayBuffer());
      let bin = ""; for (const b of bytes) bin += String.fromCharCode(b);
      const r = await api("POST", "/plugins", { manifest, component_base64: btoa(bin) });
      out.append(el("p", { text: t("upload.caps") }), el("ul", { class: "caps" }, (r.capabilities || []).map((c) => el("li", { text: c }))), el("p", { text: t(r.approved ? "upload.done" : "upload.pending") }));
    } catch (e) { out.append(el("p", { class: "error", text: e.message })); }
  });
  view.append(form);
}

async function me(view) {
  const [vm, dnd, cf] = await Promise.all([
    api("GET", "/me/voicemail").catch(() => []),
    api("GET", "/me/plugins/do-not-disturb").catch(() => null),
    api("GET", "/me/plugins/call-forwarding").catch(() => null)]);
  view.append(el("h2", { text: t("me.title") }));
  const list = el("section", { class: "card" }, el("h3", { text: t("me.voicemail") }));
  if (!vm.length) list.append(el("p", { class: "muted", text: t("me.none") }));
  for (const m of vm) {
    const audio = el("audio", { controls: true, preload: "none" });
    list.append(el("div", { class: "message", "data-id": m.id },
      el("p", {}, `${t("me.from")}: ${m.caller || "—"} · ${t("me.when")}: ${new Date(m.at).toLocaleString(state.lang)} · ${t("me.length")}: ${Math.round(m.duration_ms / 1000)} ${t("seconds")}`, m.new ? el("strong", { text: ` (${t("me.new")})` }) : null),
      el("button", { type: "button", class: "secondary", onclick: async () => {
        try { const r = await api("GET", `/me/voicemail/${m.id}/audio`, undefined, true); audio.src = URL.createObjectURL(await r.blob()); audio.play().catch(() => {}); } catch (e) { fail(e); }
      } }, t("me.listen")), " ", audio, " ",
      el("button", { type: "button", class: "danger", onclick: async () => {
        try { await api("DELETE", `/me/voicemail/${m.id}`); status(t("deleted")); route(); } catch (e) { fail(e); }
      } }, t("me.delete"))));
  }
  const dndBox = el("input", { id: "dnd", type: "checkbox", checked: !!(dnd && dnd.enabled) });
  const fwd = el("input", { id: "fwd", type: "text", value: (cf && cf.settings && cf.settings.always && cf.settings.always.enabled && cf.settings.always.destination) || "" });
  const prefs = el("section", { class: "card" },
    el("label", { for: "dnd" }, dndBox, " ", t("me.dnd")),
    el("label", { for: "fwd" }, el("span", { text: t("me.forward") }), fwd),
    el("button", { type: "button", text: t("user.save"), onclick: async () => {
      try {
        await api("PUT", "/me/plugins/do-not-disturb", { enabled: dndBox.checked, settings: {} });
        const dest = fwd.value.trim();
        // Forwarding is only touched when asked for, or to switch it off.
        if (dest || (cf && cf.enabled)) {
          await api("PUT", "/me/plugins/call-forwarding", { enabled: !!dest, settings: { always: { enabled: !!dest, destination: dest } } });
        }
        status(t("saved"));
      } catch (e) { fail(e); }
    } }));
  const greeting = el("form", { class: "card" }, el("label", {}, el("span", { text: t("me.greeting") }), el("input", { name: "wav", type: "file", accept: ".wav,audio/wav", required: true })),
    el("button", { type: "submit", text: t("me.upload") }));
  greeting.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = new FormData(greeting).get("wav");
    try { await api("PUT", "/me/voicemail/greeting", file); status(t("saved")); } catch (e) { fail(e); }
  });
  view.append(list, prefs, greeting);
}

// ---------- shell ----------
function translate() {
  document.documentElement.lang = state.lang;
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  $("#lang").value = state.lang;
}

async function route() {
  translate();
  const view = $("#view");
  view.textContent = "";
  const loggedIn = !!state.me;
  $("#login").hidden = loggedIn;
  $("#nav").hidden = !loggedIn;
  $("#logout").hidden = !loggedIn;
  if (!loggedIn) return;
  const admin = state.me.role === "admin" || state.me.role === "operator";
  for (const a of document.querySelectorAll("#nav a")) {
    a.hidden = (a.dataset.role === "admin" && !admin) || (a.dataset.role === "user" && !state.me.user_id);
    a.toggleAttribute("aria-current", location.hash.startsWith(a.getAttribute("href")));
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  const hash = location.hash || (admin ? "#/licences" : "#/me");
  const [, page, arg] = hash.split("/");
  try {
    if (page === "licences") await licences(view);
    else if (page === "users" && arg) await user(view, arg);
    else if (page === "users") await users(view);
    else if (page === "calls") await calls(view);
    else if (page === "schedules") await schedules(view);
    else if (page === "upload") await upload(view);
    else await me(view);
  } catch (e) { fail(e); }
  $("#main").focus();
}

async function login(token) {
  state.token = token;
  try {
    state.me = await api("GET", "/me/token");
    sessionStorage.setItem("centrale.token", token);
  } catch (e) {
    state.me = null; state.token = ""; sessionStorage.removeItem("centrale.token");
    status(t("login.bad"), true);
  }
  await route();
}

$("#login").addEventListener("submit", (ev) => { ev.preventDefault(); login($("#token").value.trim()); });
$("#logout").addEventListener("click", () => { sessionStorage.removeItem("centrale.token"); state.me = null; state.token = ""; location.hash = ""; route(); });
$("#lang").addEventListener("change", (ev) => { state.lang = ev.target.value; localStorage.setItem("centrale.lang", state.lang); route(); });
window.addEventListener("hashchange", route);
if (state.token) login(state.token); else route();
