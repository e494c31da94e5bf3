"use strict";
async function section(fn) { try { await fn(); } catch (e) { /* not allowed for this role */ } }
async function load() {
  await section(async () => {
    const rows = await api("/api/v1/trunks");
    document.getElementById("trunks").innerHTML = "<tr><th>中继</th><th>状态</th><th>拨号串</th><th>容量</th><th>时段</th></tr>" +
      rows.map(r => `<tr><td>${esc(r.trunk)}</td><td>${esc({up: "正常", down: "中断", unknown: "未知"}[r.status] || r.status)} ${r.active_calls !== undefined ? esc(r.active_calls) + "/" + esc(r.max_calls) : ""}</td><td>${esc(r.dial)}</td><td>${esc(r.max_calls)}</td><td>${esc(r.hours)}</td></tr>`).join("");
  });
  await section(async () => {
    const d = await api("/api/v1/deadletters");
    document.getElementById("counts").textContent = `待发 ${d.counts.pending || 0} · 已送达 ${d.counts.delivered || 0} · 死信 ${d.counts.dead_now || 0}`;
    document.getElementById("dead").innerHTML = "<tr><th>消息</th><th>工单</th><th>去向</th><th>次数</th><th>最后错误</th><th></th></tr>" +
      d.dead.map(m => `<tr><td>${esc(m.id)}</td><td><a href="/tickets/${encodeURIComponent(m.ticket_id)}">${esc(m.ticket_id)}</a></td><td>${esc(m.city)}/${esc(m.route)}</td><td>${esc(m.attempts)}</td><td>${esc(m.last_error)}</td><td><button data-requeue="${esc(m.id)}">重发</button></td></tr>`).join("");
  });
  await section(async () => {
    const list = await api("/api/v1/followups/manual");
    document.getElementById("manual").innerHTML = "<tr><th>工单</th><th>城市</th><th>类别</th><th>处理结果</th></tr>" +
      list.map(t => `<tr><td><a href="/tickets/${encodeURIComponent(t.id)}">${esc(t.id)}</a></td><td>${esc(t.city)}</td><td>${esc(t.category)}</td><td>${esc(t.outcome)}</td></tr>`).join("");
  });
}
document.addEventListener("click", async e => {
  const id = e.target.dataset && e.target.dataset.requeue;
  if (id) { await api(`/api/v1/deadletters/${encodeURIComponent(id)}/requeue`, {method: "POST"}); load(); }
});
document.getElementById("check").addEventListener("click", async () => {
  try {
    const r = await api("/api/v1/config/check", {method: "POST", headers: {"Content-Type": "text/yaml"}, body: document.getElementById("yaml").value});
    document.getElementById("result").textContent = r.ok ? `通过：${r.cities} 个城市，${r.trunks} 条中继` : r.problems.map(p => `${p.file}:${p.line ?? "?"} ${p.field} — ${p.reason}`).join("\n");
  } catch (err) { document.getElementById("result").textContent = err.message; }
});
showMe(); load();
