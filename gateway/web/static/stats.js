"use strict";
const COLS = [["calls", "来电"], ["diverted", "分流"], ["diversion_rate", "分流率"], ["move_car", "挪车"], ["ttr_median_ms", "转接用时中位数(ms)"],
  ["fallback_110", "回落110"], ["loop_completion", "闭环率"], ["sla_breaches", "超时"], ["escalated", "退回110"]];
function cell(k, v) { return (k.endsWith("rate") || k === "loop_completion") ? (100 * v).toFixed(1) + "%" : esc(v ?? "—"); }
function table(el, data, keys) {
  el.innerHTML = `<tr>${keys.map(k => `<th>${esc(k)}</th>`).join("")}${COLS.map(c => `<th>${c[1]}</th>`).join("")}</tr>` +
    [...data.rows, Object.assign({}, data.total, {[keys[0]]: "合计"})].map(r => `<tr>${keys.map(k => `<td>${esc(r[k])}</td>`).join("")}${COLS.map(c => `<td>${cell(c[0], r[c[0]])}</td>`).join("")}</tr>`).join("");
}
function chart(rows) {
  const svg = document.getElementById("chart"), W = 900, H = 230, n = Math.max(rows.length, 1);
  const max = Math.max(1, ...rows.map(r => r.calls)), bw = W / n;
  let out = "";
  rows.forEach((r, i) => {
    const x = i * bw, h = v => (v / max) * (H - 10);
    out += `<rect x="${x + 1}" y="${H - h(r.calls)}" width="${bw * 0.9}" height="${h(r.calls)}" fill="#90a4ae"><title>${esc(r.day)} 来电 ${r.calls}</title></rect>`;
    out += `<rect x="${x + 1}" y="${H - h(r.diverted)}" width="${bw * 0.6}" height="${h(r.diverted)}" fill="#1565c0"><title>分流 ${r.diverted}</title></rect>`;
    out += `<rect x="${x + 1 + bw * 0.6}" y="${H - h(r.fallback_110)}" width="${bw * 0.3}" height="${h(r.fallback_110)}" fill="#c62828"><title>回落110 ${r.fallback_110}</title></rect>`;
    if (n <= 31 || i % 5 === 0) out += `<text x="${x + 2}" y="${H + 16}" font-size="10">${esc(r.day.slice(5))}</text>`;
  });
  svg.innerHTML = out;
}
async function load() {
  const q = new URLSearchParams(new FormData(document.getElementById("q")));
  for (const [k, v] of [...q]) if (!v) q.delete(k);
  const byDay = await api(`/api/v1/stats?${q}&by=day`);
  chart(byDay.rows);
  table(document.getElementById("bycity"), await api(`/api/v1/stats?${q}&by=city`), ["city"]);
  table(document.getElementById("bycat"), await api(`/api/v1/stats?${q}&by=route,category`), ["route", "category"]);
  document.getElementById("csv").href = `/api/v1/stats?${q}&by=day,city,route,category&format=csv`;
}
document.getElementById("q").addEventListener("submit", e => { e.preventDefault(); load(); });
showMe(); load();
