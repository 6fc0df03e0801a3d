// Shared by the pages: JSON calls with the CSRF token, small DOM helpers, clocks.
"use strict";
window.labctl = (function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  async function api(method, url, body) {
    const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = csrf();
      opts.body = JSON.stringify(body || {});
    }
    const resp = await fetch(url, opts);
    let data = {};
    try { data = await resp.json(); } catch (e) { data = { error: resp.statusText }; }
    if (!resp.ok) {
      const err = new Error((data.error || resp.statusText) + (data.hint ? " (" + data.hint + ")" : ""));
      err.status = resp.status;
      throw err;
    }
    return data;
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  function left(deadlineIso, skewMs) {
    if (!deadlineIso) return "-";
    const ms = Date.parse(deadlineIso) - (Date.now() + (skewMs || 0));
    const sign = ms < 0 ? "-" : "";
    const m = Math.floor(Math.abs(ms) / 60000), s = Math.floor((Math.abs(ms) % 60000) / 1000);
    return sign + (m >= 60 ? Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") : m + "m" + String(s).padStart(2, "0") + "s");
  }
  function hhmm(iso) { return iso ? iso.slice(11, 16) + " UTC" : "-"; }
  return { api, el, left, hhmm };
})();
