// The instructor's dashboard: every seat at a glance, refreshed every few seconds without reloading.
"use strict";
(function () {
  const { api, el, left, hhmm } = window.labctl;
  const root = document.getElementById("dashboard");
  const session = root.dataset.session;
  const base = `/api/instructor/s/${session}`;
  const $ = (id) => document.getElementById(id);
  let skew = 0, last = null, thumbTick = 0;
  const cards = {};

  function showError(msg) { $("dash-error").textContent = msg; $("dash-error").hidden = !msg; }

  async function action(name, body) {
    showError("");
    try { await api("POST", `${base}/${name}`, body); } catch (e) { showError(e.message); }
    refresh();
  }

  function card(seat) {
    if (cards[seat]) return cards[seat];
    const c = el("article", { "class": "seat", "data-seat": seat, id: "seat-" + seat });
    const img = el("img", { "class": "thumb", alt: "", title: "screen of " + seat });
    const f = (cls) => el("div", { "class": cls });
    const parts = { img, title: f("title"), people: f("people"), fault: f("fault"), ticket: f("ticket"),
                    clock: f("clock"), check: f("check"), job: f("job"), problem: f("problem") };
    const btn = (label, cls, fn) => { const b = el("button", { "class": cls }, label); b.addEventListener("click", fn); return b; };
    const actions = el("div", { "class": "actions" },
      btn("Check", "do-check", () => action("check", { seat })),
      btn("Reset (same fault)", "do-reset", () => { if (confirm(`Reset ${seat} to its broken state?`)) action("reset", { seat }); }),
      btn("Reset (new fault)", "do-reset-new", () => { if (confirm(`Give ${seat} a new fault and a new ticket?`)) action("reset", { seat, new_fault: true }); }),
      btn("+10 min", "do-extend", () => action("extend", { seat, minutes: 10 })),
      el("a", { href: `/s/${session}/seat/${seat}/screen`, target: "_blank", "class": "button do-screen" }, "Screen"),
      el("a", { href: `/s/${session}/seat/${seat}/`, target: "_blank", "class": "button do-ticket" }, "Ticket"));
    const link = el("a", { href: `/s/${session}/seat/${seat}/screen`, target: "_blank" }, img);
    c.append(link, parts.title, parts.people, parts.fault, parts.ticket, parts.clock, parts.check, parts.problem, parts.job, actions);
    cards[seat] = { root: c, parts, deadline: null };
    $("seats").append(c);
    return cards[seat];
  }

  function render(data) {
    last = data;
    skew = Date.parse(data.now) - Date.now();
    $("updated").textContent = "updated " + data.now.slice(11, 19) + " UTC";
    for (const s of data.seats) {
      const c = card(s.seat), p = c.parts;
      c.deadline = s.deadline;
      c.root.dataset.ticket = s.ticket_state;
      c.root.dataset.machine = s.machine;
      c.root.dataset.fault = s.fault + "/" + s.variant;
      c.root.dataset.busy = s.job ? "yes" : "";
      p.title.textContent = s.seat + " \u00b7 " + s.machine;
      p.people.textContent = s.trainees.join(", ");
      p.fault.textContent = `${s.fault} (${s.variant})`;
      p.ticket.replaceChildren(el("span", { "class": "prio prio-" + s.priority }, s.priority), " ",
        el("span", { "class": "state" }, s.ticket_state), " ",
        s.outcome ? el("span", { "class": "outcome outcome-" + s.outcome }, s.outcome) : "");
      p.clock.textContent = "";
      p.check.textContent = s.last_check ? `last check ${s.last_check} at ${hhmm(s.last_check_at)}` : "not checked yet";
      p.check.className = "check check-" + (s.last_check || "none");
      p.problem.textContent = s.problem || "";
      p.job.textContent = s.job ? `${s.job.kind} running since ${hhmm(s.job.started)}...` : "";
      for (const b of c.root.querySelectorAll("button")) b.disabled = !!s.job;
      c.due = s.due;
    }
    $("jobs").replaceChildren(...data.jobs.map((j) => el("li", { "class": "job job-" + j.state, "data-state": j.state },
      el("time", {}, j.started.slice(11, 19)), ` ${j.kind} ${j.seat === "*" ? "every seat" : j.seat}: ${j.state}`,
      j.message ? " - " + j.message : "")));
    tick();
  }

  function tick() {
    if (!last) return;
    $("time-left").textContent = left(last.session.deadline, skew);
    for (const c of Object.values(cards)) {
      c.parts.clock.textContent = `SLA due ${hhmm(c.due)} \u00b7 time left ${left(c.deadline, skew)}`;
    }
  }

  function thumbs() {
    thumbTick += 1;
    for (const [seat, c] of Object.entries(cards)) {
      if (c.root.dataset.machine !== "running") continue;
      const img = new Image();
      img.onload = () => { c.parts.img.src = img.src; c.root.dataset.thumb = "ok"; };
      img.onerror = () => { c.root.dataset.thumb = "none"; };
      img.src = `/instructor/s/${session}/seat/${seat}/thumb.png?t=${Date.now()}`;
    }
  }

  async function refresh() {
    try { render(await api("GET", `${base}/status`)); showError(""); }
    catch (e) { showError("cannot update: " + e.message); }
  }

  $("check-all").addEventListener("click", () => action("check", {}));
  $("new-codes").addEventListener("click", async () => {
    if (!confirm("Make new access codes for every trainee? The old ones stop working.")) return;
    showError("");
    try {
      const data = await api("POST", `${base}/codes`, {});
      $("codes").replaceChildren(el("tr", {}, el("th", {}, "Trainee"), el("th", {}, "Code")),
        ...Object.entries(data.codes).map(([who, code]) => el("tr", {}, el("td", {}, who), el("td", { "class": "code" }, code))));
      $("portal-url").textContent = `${location.origin}/?session=${session}`;
      $("codes-card").hidden = false;
    } catch (e) { showError(e.message); }
  });
  $("extend-all").addEventListener("click", () => action("extend", { minutes: parseInt($("extend-min").value, 10) }));
  setInterval(tick, 1000);
  setInterval(refresh, 3000);
  setInterval(thumbs, 10000);
  refresh().then(thumbs);
})();
