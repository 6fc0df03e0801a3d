// The trainee's ticket page: acknowledge, notes, escalate, resolve; history and outcome refresh.
"use strict";
(function () {
  const { api, el, left, hhmm } = window.labctl;
  const root = document.getElementById("ticket-app");
  const base = `/api/s/${root.dataset.session}/seat/${root.dataset.seat}`;
  const $ = (id) => document.getElementById(id);
  let deadline = $("t-left").dataset.deadline;

  function render(t) {
    $("t-state").textContent = t.state;
    $("t-outcome").textContent = t.outcome || "";
    $("t-outcome").className = "outcome " + (t.outcome ? "outcome-" + t.outcome : "");
    $("t-subject").textContent = t.subject;
    $("t-body").textContent = t.body;
    $("t-priority").textContent = t.priority;
    $("t-due").textContent = hhmm(t.due);
    deadline = t.deadline;
    const closed = t.state === "resolved" || t.state === "escalated";
    for (const id of ["ack", "resolve", "escalate"]) $(id).disabled = closed;
    $("ack").disabled = closed || t.state === "acknowledged";
    const h = $("history");
    h.replaceChildren(...t.history.map((e) => {
      const groups = e.kind === "checked" && e.data && e.data.functional
        ? ` (functional ${e.data.functional}, data ${e.data.integrity}, security ${e.data.security})` : "";
      return el("li", { "class": "ev ev-" + e.kind, "data-kind": e.kind },
        el("time", {}, e.at.slice(11, 19)), " ", el("b", {}, e.actor), " ",
        e.kind + (e.note_kind ? " (" + e.note_kind + ")" : ""), (e.text || groups) ? ": " + e.text + groups : "");
    }));
  }

  async function act(action, body, form) {
    $("action-error").hidden = true;
    $("action-busy").hidden = false;
    try {
      render(await api("POST", `${base}/${action}`, body));
      if (form) form.reset();
    } catch (e) {
      $("action-error").textContent = e.message;
      $("action-error").hidden = false;
    } finally {
      $("action-busy").hidden = true;
    }
  }

  $("ack").addEventListener("click", () => act("ack", {}));
  $("note-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("note", { kind: $("note-kind").value, text: $("note-text").value }, ev.target);
  });
  $("resolve-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("resolve", { resolution: $("resolution").value }, ev.target);
  });
  $("escalate-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("escalate", { observed: $("esc-observed").value, tried: $("esc-tried").value, reason: $("esc-reason").value }, ev.target);
  });

  async function refresh() {
    try { render(await api("GET", `${base}/ticket`)); } catch (e) { /* shown on the next action */ }
  }
  const tick = () => { $("t-left").textContent = left(deadline); };
  tick();
  setInterval(tick, 1000);
  setInterval(refresh, 10000);
  refresh();
})();
