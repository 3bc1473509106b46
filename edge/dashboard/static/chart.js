// A line chart on a canvas: one series over the last `spanS` seconds (x: the dashboard's receive time).
// Gaps (null values) break the line. No library: the page must work without internet.
"use strict";

function drawChart(canvas, points, key, opts) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 36, bottom = 18, top = 6, right = 6;
  const now = opts.now, span = opts.spanS;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#6b7280";
  ctx.strokeStyle = "#e5e7eb";
  ctx.lineWidth = 1;
  let min = opts.min, max = opts.max;
  if (max === undefined) {
    max = points.reduce((m, p) => (p[key] !== null && p[key] > m ? p[key] : m), 1);
  }
  const x = (ts) => left + ((ts - (now - span)) / span) * (w - left - right);
  const y = (v) => top + (1 - (v - min) / (max - min || 1)) * (h - top - bottom);
  for (let i = 0; i <= 2; i++) {  // three gridlines with their values
    const v = min + ((max - min) * i) / 2;
    ctx.beginPath();
    ctx.moveTo(left, y(v));
    ctx.lineTo(w - right, y(v));
    ctx.stroke();
    ctx.fillText(String(Math.round(v * 100) / 100), 2, y(v) + 4);
  }
  const step = Math.max(1, Math.ceil(span / 60 / 5));  // at most six labels on the time axis
  for (let m = 0; m <= span / 60; m += step) {
    const tx = x(now - m * 60) - 16;
    if (tx >= left - 4) ctx.fillText(m === 0 ? "now" : `-${m} min`, Math.max(left, tx), h - 4);
  }
  ctx.strokeStyle = opts.color || "#2563eb";
  ctx.lineWidth = 1.8;
  ctx.beginPath();
  let drawing = false;
  for (const p of points) {
    const v = p[key];
    if (v === null || v === undefined || p.ts < now - span) { drawing = false; continue; }
    if (drawing) ctx.lineTo(x(p.ts), y(v)); else ctx.moveTo(x(p.ts), y(v));
    drawing = true;
  }
  ctx.stroke();
}
