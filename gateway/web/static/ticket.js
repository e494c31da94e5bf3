"use strict";
const ticketId = decodeURIComponent(location.pathname.split("/").pop());
async function load() {
  const t = await api(`/api/v1/tickets/${encodeURIComponent(ticketId)}`);
  document.getElementById("tid").textContent = t.id;
  document.getElementById("summary").innerHTML = `<table>
    <tr><th>城市</th><td>${esc(t.city)}</td><th>来电</th><td>${esc(t.caller)}</td></tr>
    <tr><th>去向</th><td>${routeBadge(t.route)} ${t.intended_route ? "（原定 " + esc(t.intended_route) + "，" + esc(t.route_reason) + "）" : ""}</td><th>类别 / 置信度</th><td>${esc(t.category)} / ${esc(t.confidence)}</td></tr>
    <tr><th>转写</th><td colspan="3">${esc(t.transcript) || '<span class="muted">已过保存期</span>'}</td></tr>
    <tr><th>要素</th><td colspan="3">${(t.entities || []).map(e => esc(e.kind + "：" + e.value)).join("；")}</td></tr>
    <tr><th>依据</th><td colspan="3">${esc((t.evidence || []).join(" "))} ${esc(t.rule)}</td></tr>
    <tr><th>标记</th><td>${flagBadges(t.flags)}</td><th>关联工单</th><td>${(t.linked || []).map(l => `<a href="/tickets/${encodeURIComponent(l)}">${esc(l)}</a>`).join(" ")}</td></tr>
    <tr><th>状态</th><td>${esc(t.state_zh)}</td><th>处理结果 / 满意度</th><td>${esc(t.outcome)} ${esc(t.satisfaction)}</td></tr></table>`;
  document.getElementById("timeline").innerHTML = t.timeline.map(e => `<tr><td>${esc(e.at.replace("T", " ").slice(0, 19))}</td>
    <td>${esc(STATE_ZH[e.state] || (e.state === "note" ? "备注" : e.state))}</td><td>${esc(e.actor)}</td><td class="muted">${esc(JSON.stringify(e.detail))}</td></tr>`).join("");
}
document.getElementById("actions").addEventListener("click", async e => {
  const act = e.target.dataset.act; if (!act) return;
  const call = {escalate: ["escalate", {reason: "值班长退回"}], close: ["close", {}], f1: ["followup", {result: 1}], f2: ["followup", {result: 2}]}[act];
  try {
    await api(`/api/v1/tickets/${encodeURIComponent(ticketId)}/${call[0]}`, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(call[1])});
    document.getElementById("msg").textContent = "已提交"; load();
  } catch (err) { document.getElementById("msg").textContent = err.message; }
});
showMe().then(me => { if (me.role === "supervisor") document.getElementById("actions").hidden = false; });
load();
