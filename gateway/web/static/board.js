// Live board: a snapshot from the API, then every event from the SSE stream.
"use strict";
const calls = new Map();   // call_id -> row data
const tickets = new Map(); // ticket id -> ticket view
function upsertCall(id, patch) { calls.set(id, Object.assign(calls.get(id) || {call_id: id}, patch)); }
function renderCalls() {
  const rows = [...calls.values()].sort((a, b) => String(b.last_at || "").localeCompare(String(a.last_at || ""))).slice(0, 200);
  document.getElementById("calls").innerHTML = rows.map(c => {
    const t = c.ticket ? tickets.get(c.ticket) : null;
    const flags = t ? flagBadges(t.flags) : "";
    const state = t ? STATE_ZH[t.state] || t.state : "";
    const link = c.ticket ? `<a href="/tickets/${encodeURIComponent(c.ticket)}">${esc(c.ticket)}</a>` : "";
    return `<tr><td>${esc((c.last_at || "").slice(11, 19))}</td><td>${esc(c.city)}</td>
      <td class="transcript">${esc(c.transcript)}</td><td>${routeBadge(c.route)}</td><td>${esc(c.category)}</td>
      <td class="muted">${esc(c.evidence)}</td><td>${link} ${flags}</td><td>${esc(state)}</td></tr>`;
  }).join("");
}
function onEvent(ev) {
  if (ev.kind === "call") {
    const d = ev.data.data || {};
    const patch = {last_at: ev.data.at, last_kind: ev.data.kind};
    for (const k of ["city", "route", "category", "ticket"]) if (d[k]) patch[k] = d[k];
    if (d.text) patch.transcript = d.text;
    if (d.evidence) patch.evidence = Array.isArray(d.evidence) ? d.evidence.join(" ") : d.evidence;
    upsertCall(ev.data.call_id, patch);
  } else if (ev.kind === "ticket") {
    tickets.set(ev.data.id, ev.data);
    upsertCall(ev.data.call_id, {ticket: ev.data.id, city: ev.data.city, route: ev.data.route,
      category: ev.data.category, transcript: ev.data.transcript || (calls.get(ev.data.call_id) || {}).transcript,
      evidence: (ev.data.evidence || []).join(" "), last_at: (calls.get(ev.data.call_id) || {}).last_at || ev.data.created_at});
  } else if (ev.kind === "alert") {
    document.getElementById("alerts").insertAdjacentHTML("afterbegin",
      `<div class="alert">${esc(ev.at.slice(11, 19))} ${esc(ev.data.kind || "")} ${esc(ev.data.ticket || "")} ${esc(ev.data.step || ev.data.error || "")}</div>`);
  } else if (ev.kind === "callback") { loadCallbacks(); }
  renderCalls();
}
async function loadCallbacks() {
  try {
    const tasks = await api("/api/v1/callbacks");
    document.getElementById("callbacks").innerHTML = tasks.map(t => `<tr><td>${esc(t.at.slice(5, 19))}</td><td>${esc(t.city)}</td>
      <td>${esc(t.caller)}</td><td>${esc(t.heard)}</td><td><button data-id="${esc(t.id)}">已回拨</button></td></tr>`).join("");
  } catch (e) { /* role without call-backs */ }
}
document.addEventListener("click", async e => {
  const id = e.target.dataset && e.target.dataset.id;
  if (!id) return;
  await api(`/api/v1/callbacks/${encodeURIComponent(id)}/done`, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
  loadCallbacks();
});
async function start() {
  await showMe();
  const [snapshot, recent] = await Promise.all([api("/api/v1/calls"), api("/api/v1/tickets?limit=100")]);
  for (const c of snapshot) upsertCall(c.call_id, c);
  for (const t of recent) { tickets.set(t.id, t); upsertCall(t.call_id, {ticket: t.id, route: t.route, category: t.category, city: t.city,
    evidence: (t.evidence || []).join(" "), transcript: (calls.get(t.call_id) || {}).transcript || t.transcript, last_at: (calls.get(t.call_id) || {}).last_at || t.created_at}); }
  renderCalls(); loadCallbacks();
  const source = new EventSource("/api/v1/events");
  source.onopen = () => { document.getElementById("conn").textContent = "实时"; };
  source.onerror = () => { document.getElementById("conn").textContent = "重连中…"; };
  source.onmessage = m => onEvent(JSON.parse(m.data));
}
start();
