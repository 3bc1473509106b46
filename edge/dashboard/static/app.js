// The fleet page (/) and a device page (/device/ID), fed by one Server-Sent Events stream (/api/stream).
// Every value from a device is put in the page as text (textContent), never as HTML.
"use strict";

const match = location.pathname.match(/^\/device\/([^/]+)$/);
const deviceId = match ? decodeURIComponent(match[1]) : null;
const CHARTS = { kss: { min: 1, max: 9, color: "#7c3aed" }, closed_prob: { min: 0, max: 1, color: "#2563eb" },
                 off_road_s: { min: 0, color: "#d97706" }, stress: { min: 0, max: 1, color: "#dc2626" } };
let history = [], historyS = 600, pending = {}, early = {};  // pending: request id -> alert; early: see showResult

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k === "onclick") node.onclick = v; else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}
const fmt = (v, digits = 2) => (v === null || v === undefined ? "–" : String(Math.round(v * 10 ** digits) / 10 ** digits));
const pill = (text, cls) => el("span", { class: `pill ${cls || text || "unknown"}` }, text || "unknown");
const time = (ts) => (ts ? new Date(ts * 1000).toLocaleTimeString() : "–");

async function acknowledge(device, alertId, button) {
  button.disabled = true;
  const r = await fetch(`/api/devices/${encodeURIComponent(device)}/ack`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ id: alertId }) });
  const body = await r.json();
  if (!r.ok) { button.disabled = false; alert(`acknowledgement refused: ${body.error}`); return; }
  pending[body.request_id] = alertId;
  button.textContent = "sent…";
  const answered = early[body.request_id];
  if (answered) { answered[1].replaceWith(resultItem(answered[0])); delete early[body.request_id]; }
}

function tile(d) {
  const drv = d.driver, h = d.health.components;
  const alerts = el("ul", { class: "alerts" });
  for (const a of d.alerts) {
    const btn = el("button", { title: "publish cmd/ack" }, a.acknowledged ? "acknowledged" : "ack");
    if (a.acknowledged) btn.disabled = true; else btn.onclick = () => acknowledge(d.id, a.id, btn);
    alerts.append(el("li", {}, el("span", {}, pill(a.level), a.kind, " ", el("span", { class: "muted" }, a.id)), btn));
  }
  const health = el("span", {});
  for (const name of ["camera", "serial", "audio", "broker", "outbox"]) {
    const c = h[name];
    health.append(el("span", { class: `pill ${c.state}`, title: c.detail || c.state }, name));
  }
  const eyes = drv.eyes.visible ? `${drv.eyes.left || "?"} / ${drv.eyes.right || "?"}, closed ${fmt(drv.eyes.closed_prob)}`
    : `not visible${drv.eyes.reason ? ` (${drv.eyes.reason})` : ""}`;
  const attention = drv.attention.on_road === null ? `unknown, off road ${fmt(drv.attention.off_road_s, 1)} s`
    : `${drv.attention.on_road ? "on road" : "off road"} (${fmt(drv.attention.off_road_s, 1)} s)`;
  const name = deviceId ? d.id : el("a", { href: `/device/${encodeURIComponent(d.id)}` }, d.id);
  return el("article", { class: `tile${d.alerts.length ? " alerting" : ""}`, "data-device": d.id },
    el("h3", {}, name, pill(d.availability)),
    el("dl", {},
      el("dt", {}, "driver"), el("dd", {}, pill(drv.level), `KSS ${fmt(drv.kss, 1)}`),
      el("dt", {}, "eyes"), el("dd", {}, eyes),
      el("dt", {}, "attention"), el("dd", {}, attention),
      el("dt", {}, "stress"), el("dd", {}, `${drv.stress.level || "–"} (${fmt(drv.stress.score)})`),
      el("dt", {}, "emotion"), el("dd", {}, `${drv.emotion.dominant || "–"} (${fmt(drv.emotion.confidence)})`),
      el("dt", {}, "health"), el("dd", {}, health),
      el("dt", {}, "SoC"), el("dd", {}, d.temperature_c === null ? "–" : `${fmt(d.temperature_c, 1)} °C`),
      el("dt", {}, "last message"), el("dd", {}, time(d.last_seen))),
    d.alerts.length ? alerts : el("p", { class: "muted" }, "no active alert"));
}

function showTile(d) {
  const box = document.getElementById(deviceId ? "device-tile" : "tiles");
  const old = box.querySelector(`[data-device="${CSS.escape(d.id)}"]`);
  if (old) old.replaceWith(tile(d)); else box.append(tile(d));
  if (!deviceId) document.getElementById("empty").hidden = true;
}

function historyRow(stored) {
  const e = stored.event;
  return el("tr", {}, el("td", {}, stored.seq), el("td", {}, time(stored.received)), el("td", {}, `${e.kind} ${e.id}`),
            el("td", {}, e.type), el("td", {}, pill(e.level)), el("td", {}, fmt(e.t, 3)),
            el("td", {}, e.acknowledged ? "yes" : ""));
}

function resultItem(r) {
  const what = pending[r.request_id] ? `ack of ${pending[r.request_id]}` : r.command;
  const text = r.ok ? `ok${r.acknowledged !== undefined ? ` (acknowledged ${r.acknowledged})` : ""}` : `refused: ${r.reason}`;
  return el("li", { "data-request": r.request_id || "" }, `${time(r.received)} ${what}: `, pill(r.ok ? "ok" : "critical"), text);
}

function showResult(r) {
  const item = resultItem(r);
  // a device can answer before this page has the POST's reply (and so the request id): label it when that comes
  if (r.request_id && !pending[r.request_id]) early[r.request_id] = [r, item];
  document.getElementById("results").prepend(item);
}

function redraw() {
  const now = Date.now() / 1000;
  for (const [key, opts] of Object.entries(CHARTS)) {
    drawChart(document.getElementById(`chart-${key}`), history, key, { ...opts, now, spanS: historyS });
  }
}

async function loadDevice() {
  const r = await fetch(`/api/devices/${encodeURIComponent(deviceId)}`);
  if (!r.ok) { document.getElementById("device-tile").textContent = `No device ${deviceId} yet.`; return; }
  const d = await r.json();
  history = d.history; historyS = d.history_s;
  showTile(d);
  const body = document.getElementById("history");
  body.replaceChildren(...d.events.slice().reverse().map(historyRow));
  document.getElementById("results").replaceChildren();
  d.results.forEach(showResult);
  redraw();
}

function onChange(c) {
  if (c.counts) {
    document.getElementById("counts").textContent =
      `${c.counts.messages} messages, ${c.counts.malformed} malformed, ${c.counts.duplicates} duplicates`;
  }
  if (c.type === "snapshot") {
    if (deviceId) loadDevice(); else c.devices.forEach(showTile);
    return;
  }
  if (deviceId && c.device !== deviceId) return;
  showTile(c.summary);
  if (!deviceId) return;
  if (c.point) { history.push(c.point); history = history.filter((p) => p.ts >= c.point.ts - historyS); redraw(); }
  if (c.type === "event" && c.seq !== null) {
    document.getElementById("history").prepend(historyRow({ seq: c.seq, received: c.summary.last_seen, event: c.event }));
  }
  if (c.type === "result") showResult(c.result);
}

document.getElementById(deviceId ? "device" : "fleet").hidden = false;
const stream = new EventSource("/api/stream");
const link = document.getElementById("link");
stream.onopen = () => { link.textContent = "live"; link.className = "pill ok"; };
stream.onerror = () => { link.textContent = "reconnecting…"; link.className = "pill offline"; };
stream.onmessage = (m) => onChange(JSON.parse(m.data));
if (deviceId) setInterval(redraw, 5000);  // the time axis moves on even when the device is silent
