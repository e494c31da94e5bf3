// Shared helpers for the operator pages: fetch JSON with the session cookie, escape text.
"use strict";
const ROUTE_ZH = {"110": "110 公安", "119": "119 消防", "120": "120 急救", "12345": "12345 政务", "mediation": "综治调解"};
const STATE_ZH = {accepted: "受理", transferred: "流转", handling: "处置", feedback: "反馈", followed_up: "回访", closed: "办结", escalated: "退回110"};
const FLAG_ZH = {"repeat": "重复来电", "repeat-unresolved": "重复未解决", "abuse-warning": "疑似骚扰", "callback": "待回拨"};
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }
async function api(path, options) {
  const r = await fetch(path, Object.assign({credentials: "same-origin"}, options || {}));
  if (r.status === 401) { location.href = "/login"; throw new Error("login"); }
  const type = r.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error((body && body.detail) || r.statusText);
  return body;
}
function routeBadge(route) { return route ? `<span class="badge r${esc(route)}">${esc(ROUTE_ZH[route] || route)}</span>` : ""; }
function flagBadges(flags) { return (flags || []).map(f => `<span class="badge ${f === "abuse-warning" ? "warn" : "flag"}">${esc(FLAG_ZH[f] || f)}</span>`).join(""); }
async function showMe() {
  const me = await api("/api/v1/me");
  const el = document.querySelector(".me");
  if (el) el.textContent = `${me.name}（${{calltaker: "接警员", supervisor: "值班长", engineer: "工程师", centre: "承办中心"}[me.role] || me.role}） · `;
  if (el) el.insertAdjacentHTML("beforeend", '<a href="/logout">退出</a>');
  return me;
}
