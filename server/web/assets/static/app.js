// Keelson's read-only web view. It draws the summary pushed by /ui/api/stream (one
// Server-Sent Event per change of the cluster: no polling) and routes between views
// with the URL fragment, so every view can be linked and the back button works.
// Everything is built with DOM calls and textContent: no cluster data is ever parsed
// as HTML. Nothing here can change the cluster: Git is the only writer.
"use strict";

(function () {
  // State of this page instance; tests read window.keelson to prove an update
  // arrived without a reload (pageId stays, updates grows).
  const page = {
    pageId: Math.random().toString(36).slice(2),
    updates: 0,
    firstRenderMs: 0,
    summary: null,
    events: new Map(), // seq → event, accumulated across updates
    closed: new Set(), // tree keys the visitor folded
    log: null,         // AbortController of the pod view's log tail
    cspViolations: 0,  // anything the page's own Content-Security-Policy blocked
  };
  window.keelson = page;
  document.addEventListener("securitypolicyviolation", (ev) => {
    page.cspViolations++;
    console.error("CSP blocked", ev.blockedURI, ev.violatedDirective);
  });

  const $ = (id) => document.getElementById(id);

  // el builds an element: attrs are attributes (or on* listeners), children are
  // nodes or strings (always text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function fill(id, ...children) {
    const e = $(id);
    e.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
    return e;
  }

  const good = new Set(["Healthy", "Synced", "Running", "Ready", "Succeeded", "Normal"]);
  const bad = new Set(["Degraded", "Missing", "OutOfSync", "Failed", "Down", "NotReady", "Warning", "Unknown"]);
  function badge(text) {
    const cls = good.has(text) ? "ok" : bad.has(text) ? "bad" : "warn";
    return el("span", { class: "badge " + cls }, text || "—");
  }

  const short = (sha) => (sha || "").slice(0, 8);
  function when(t) {
    if (!t || t.startsWith("0001-")) return "—";
    const d = new Date(t);
    return isNaN(d) ? t : d.toLocaleString();
  }

  // Kubernetes quantities as the page needs them: CPU in millicores, memory in bytes.
  function milli(q) {
    if (!q) return 0;
    if (q.endsWith("m")) return parseFloat(q);
    return parseFloat(q) * 1000;
  }
  const units = { Ki: 1 << 10, Mi: 1 << 20, Gi: 1 << 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  function bytes(q) {
    if (!q) return 0;
    const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
    if (!m) return 0;
    return parseFloat(m[1]) * (units[m[2]] || 1);
  }
  const mib = (b) => Math.round(b / (1 << 20)) + " MiB";
  const cpu = (m) => (m >= 1000 ? (m / 1000).toFixed(1) : m + "m");

  function podKey(p) { return p.namespace + "/" + p.name; }
  function podLink(p) {
    return el("a", { href: "#pod/" + encodeURIComponent(p.namespace) + "/" + encodeURIComponent(p.name) }, p.name);
  }
  function restarts(p) {
    return (p.status.containers || []).reduce((n, c) => n + (c.restartCount || 0), 0);
  }
  function readyText(p) {
    const cs = p.status.containers || [];
    const want = (p.spec.containers || []).length;
    return cs.filter((c) => c.ready).length + "/" + want;
  }
  function phaseOf(p) {
    if (p.desire === "Stop") return "Stopping";
    return p.status.reason || p.status.phase || "Pending";
  }
  // fileLink points at the repository's file view, at the line of a file:line.
  function fileLink(commit, pos, text) {
    const target = "#file/" + commit + "/" + encodeURIComponent(pos.file) + (pos.line ? ":" + pos.line : "");
    return el("a", { href: target, class: "mono" }, text);
  }
  function posText(pos) {
    return pos.file + (pos.line ? ":" + pos.line : "") + (pos.column ? ":" + pos.column : "");
  }

  // ---- rendering of the summary ----

  function render(s) {
    const st = s.status;
    page.summary = s;
    for (const ev of st.events || []) page.events.set(ev.seq, ev);
    renderRevision(st);
    renderRefused(st);
    renderTree(s);
    renderPods(s.pods || []);
    renderNodes(st.nodes || [], s.pods || []);
    renderEvents();
    if (current.view === "pod") renderPod(current.args);
    page.updates++;
    if (!page.firstRenderMs && (s.pods || []).length > 0) {
      page.firstRenderMs = performance.now();
      performance.mark("keelson-pods-filled");
    }
    const ready = (s.pods || []).filter((p) => p.desire !== "Stop" && p.status.ready).length;
    $("live").textContent = "live · index " + s.index + " · " + ready + " pods ready · " + new Date().toLocaleTimeString();
  }

  function renderRevision(st) {
    const a = st.applied;
    const c = st.cluster || {};
    fill("revision", el("div", { class: "card", id: "applied" },
      el("h3", {}, "Applied commit ", a ? el("code", { title: a.commit }, short(a.commit)) : "none yet"),
      a ? el("p", {}, a.message.split("\n")[0], el("br"), el("span", { class: "muted" }, a.author + " · " + when(a.time))) : null,
      el("p", {}, "Sync ", badge(c.sync), " Health ", badge(c.health), c.message ? " " + c.message : ""),
      st.source && st.source.message ? el("p", { class: "error" }, "Git source: " + st.source.message) : null));
  }

  function renderRefused(st) {
    const r = st.refused;
    if (!r) { fill("refused"); return; }
    fill("refused", el("div", { class: "card refused", id: "refused-commit", role: "region", "aria-label": "Refused commit" },
      el("h3", {}, "Refused commit ", el("code", { title: r.commit }, short(r.commit)), " — ", r.reason),
      el("p", {}, r.message.split("\n")[0], el("br"),
        el("span", { class: "muted" }, r.author + " · " + when(r.time) + " · the cluster stays on the applied commit")),
      el("ul", { class: "refused-errors" }, (r.errors || []).map((e) => el("li", {},
        e.pos && e.pos.file ? fileLink(r.commit, e.pos, posText(e.pos)) : null,
        ": " + [e.object, e.field, e.message].filter(Boolean).join(": "))))));
  }

  function renderTree(s) {
    const pods = s.pods || [];
    const svcs = new Map((s.services || []).map((v) => ["Service/" + v.namespace + "/" + v.name, v]));
    const items = (s.status.objects || []).map((o) => {
      const [kind] = o.key.split("/");
      let children = [];
      if (kind === "Service") {
        const v = svcs.get(o.key);
        children = ((v && v.endpoints) || []).map((e) => el("li", {},
          "endpoint ", el("span", { class: "mono" }, e.ip + ":" + e.port), " → ",
          e.podName, " on ", e.node || "—", " ", badge(e.ready ? "Ready" : "NotReady")));
      } else {
        children = pods.filter((p) => p.owner === o.key).map((p) => el("li", {},
          "pod ", podLink(p), " ", badge(p.status.ready ? "Ready" : phaseOf(p)), " ",
          el("span", { class: "muted" }, p.node || "unscheduled")));
      }
      const counts = o.desired ? " " + o.ready + "/" + o.desired : "";
      const details = el("details", { open: !page.closed.has(o.key), "data-key": o.key },
        el("summary", {}, el("strong", {}, o.key), counts, " ", badge(o.sync), " ", badge(o.health),
          o.message ? el("span", { class: "muted" }, " " + o.message) : null),
        children.length ? el("ul", {}, children) : el("p", { class: "muted" }, kind === "Service" ? "no endpoints" : "no pods"));
      details.addEventListener("toggle", () => {
        if (details.open) page.closed.delete(o.key); else page.closed.add(o.key);
      });
      return el("li", {}, details);
    });
    fill("tree", items.length ? items : el("li", { class: "muted" }, "No objects: the applied commit declares nothing yet."));
  }

  function renderPods(pods) {
    const rows = pods.map((p) => el("tr", { "data-pod": podKey(p), "data-ready": String(!!p.status.ready) },
      el("td", {}, podLink(p)), el("td", {}, badge(phaseOf(p))), el("td", {}, readyText(p)),
      el("td", {}, restarts(p)), el("td", {}, p.node || "—"), el("td", { class: "mono" }, p.status.podIP || "—")));
    $("pods-table").tBodies[0].replaceChildren(...rows);
  }

  function renderNodes(nodes, pods) {
    const cards = nodes.map((n) => {
      const mine = pods.filter((p) => p.node === n.name && p.desire !== "Stop");
      let reqCPU = 0, reqMem = 0;
      for (const p of mine) for (const c of p.spec.containers || []) {
        const r = (c.resources && c.resources.requests) || {};
        reqCPU += milli(r.cpu); reqMem += bytes(r.memory);
      }
      const al = n.allocatable || {};
      return el("div", { class: "card", "data-node": n.name },
        el("h3", {}, n.name, " ", badge(n.status)),
        el("p", { class: "muted" }, n.address + (n.podCIDR ? " · pods " + n.podCIDR : "") + (n.statusReason ? " · " + n.statusReason : "")),
        el("p", {}, "CPU requested " + cpu(reqCPU) + " of " + cpu(al.milliCPU || 0) +
          " · memory " + mib(reqMem) + " of " + mib(al.memoryBytes || 0)),
        mine.length ? el("ul", {}, mine.map((p) => el("li", {}, podLink(p), " ", badge(p.status.ready ? "Ready" : phaseOf(p)))))
          : el("p", { class: "muted" }, "no pods"));
    });
    fill("nodes-list", cards.length ? cards : el("p", { class: "muted" }, "No node has registered."));
  }

  function renderEvents() {
    const seqs = [...page.events.keys()].sort((a, b) => b - a);
    for (const s of seqs.slice(500)) page.events.delete(s);
    fill("events-list", seqs.slice(0, 500).map((s) => {
      const e = page.events.get(s);
      return el("li", { value: s }, el("span", { class: "muted" }, when(e.time)), " ", badge(e.type), " ",
        el("strong", {}, e.reason), " ", el("span", { class: "mono" }, e.object), " ", e.message);
    }));
  }

  function renderPod([ns, name]) {
    const pods = ((page.summary && page.summary.pods) || []).filter((p) => p.namespace === ns && p.name === name);
    const p = pods.find((x) => x.desire !== "Stop") || pods[0];
    $("h-pod").textContent = "Pod " + ns + "/" + name;
    if (!p) { fill("pod", el("p", { class: "muted" }, "This pod no longer exists.")); return; }
    const st = p.status;
    const byName = new Map((st.containers || []).map((c) => [c.name, c]));
    fill("pod",
      el("p", {}, "Phase ", badge(phaseOf(p)), " Ready ", readyText(p), st.message ? " · " + st.message : ""),
      el("p", { class: "muted" }, "node " + (p.node || "—") + " · IP " + (st.podIP || "—") + " · owner " + p.owner +
        " · commit " + short(p.commit) + " · created " + when(p.createdAt)),
      el("div", { class: "scroll" }, el("table", {},
        el("caption", { class: "sr" }, "Containers"),
        el("thead", {}, el("tr", {}, ["Container", "Image", "State", "Ready", "Restarts", "Last exit", "Started"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, (p.spec.containers || []).map((c) => {
          const s = byName.get(c.name) || {};
          return el("tr", {}, el("td", {}, c.name), el("td", { class: "mono" }, c.image),
            el("td", {}, badge(s.state || "Waiting"), s.reason ? " " + s.reason : ""),
            el("td", {}, s.ready ? "yes" : "no"), el("td", {}, s.restartCount || 0),
            el("td", {}, s.exitCode ? String(s.exitCode) : "—"), el("td", {}, when(s.startedAt)));
        })))));
    const sel = $("pod-container");
    const names = (p.spec.containers || []).map((c) => c.name);
    if (sel.dataset.pod !== podKey(p) || sel.options.length !== names.length) {
      sel.dataset.pod = podKey(p);
      sel.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
      tailLog(ns, name, names[0]);
    }
  }

  // tailLog streams the container's log into the pod view until the view changes.
  async function tailLog(ns, name, container) {
    if (page.log) page.log.abort();
    const ctl = new AbortController();
    page.log = ctl;
    const out = $("pod-log");
    out.textContent = "";
    if (!container) return;
    try {
      const res = await fetch("/ui/api/logs/" + encodeURIComponent(ns) + "/" + encodeURIComponent(name) +
        "?container=" + encodeURIComponent(container), { signal: ctl.signal });
      if (!res.ok) {
        out.textContent = "(log unavailable: " + ((await res.json().catch(() => ({}))).error || res.status) + ")";
        return;
      }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out.textContent = (out.textContent + dec.decode(value, { stream: true })).slice(-200000);
        out.scrollTop = out.scrollHeight;
      }
    } catch (err) {
      if (err.name !== "AbortError") out.textContent += "\n(log stream ended: " + err.message + ")";
    }
  }

  async function showFile([commit, ...rest]) {
    const spec = decodeURIComponent(rest.join("/"));
    const m = /^(.*?)(?::(\d+))?$/.exec(spec);
    const path = m[1], line = m[2] ? parseInt(m[2], 10) : 0;
    $("h-file").textContent = "File " + path;
    fill("file-where", "at commit ", el("code", { title: commit }, short(commit)), line ? ", line " + line : "");
    fill("file", el("p", { class: "muted" }, "loading…"));
    const res = await fetch("/ui/api/file?commit=" + encodeURIComponent(commit) + "&path=" + encodeURIComponent(path));
    if (!res.ok) {
      fill("file", el("p", { class: "error" }, (await res.json().catch(() => ({}))).error || "file unavailable"));
      return;
    }
    const lines = (await res.text()).split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    fill("file", el("ol", { "aria-label": path }, lines.map((t, i) =>
      el("li", { id: "L" + (i + 1), class: i + 1 === line ? "hit" : null }, el("span", {}, t)))));
    const hit = $("L" + line);
    if (hit) hit.scrollIntoView({ block: "center" });
  }

  async function showPlan([branch]) {
    branch = decodeURIComponent(branch || "");
    $("plan-branch").value = branch;
    if (!branch) { fill("plan-state"); fill("plan-out"); return; }
    fill("plan-state", "computing the plan of " + branch + "…");
    fill("plan-out");
    const res = await fetch("/ui/api/plan?branch=" + encodeURIComponent(branch));
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { fill("plan-state", el("span", { class: "error" }, body.error || "plan failed")); return; }
    fill("plan-state", "plan of " + branch + (body.exitCode === 0 ? ": no change" : body.exitCode === 1 ? ": invalid" : ": changes"));
    fill("plan-out", body.text !== undefined ? body.text : JSON.stringify(body, null, 2));
  }

  // ---- routing ----

  const views = ["overview", "nodes", "events", "pod", "file", "plan"];
  let current = { view: "overview", args: [] };

  function route() {
    const parts = (location.hash.slice(1) || "overview").split("/");
    const view = views.includes(parts[0]) ? parts[0] : "overview";
    const args = parts.slice(1).map(decodeURIComponent);
    if (current.view === "pod" && (view !== "pod" || args.join("/") !== current.args.join("/"))) {
      if (page.log) page.log.abort();
      $("pod-container").dataset.pod = "";
    }
    current = { view, args };
    for (const v of views) $("view-" + v).hidden = v !== view;
    for (const a of document.querySelectorAll("nav a")) {
      if (a.getAttribute("href") === "#" + view) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    if (view === "pod" && page.summary) renderPod(args);
    if (view === "file") showFile(parts.slice(1));
    if (view === "plan") showPlan(parts.slice(1));
  }

  // ---- live updates ----

  function connect() {
    const es = new EventSource("/ui/api/stream");
    es.addEventListener("summary", (ev) => render(JSON.parse(ev.data)));
    es.addEventListener("denied", () => { es.close(); location.assign("/ui/login"); });
    es.addEventListener("failed", (ev) => {
      $("live").textContent = "read API error: " + JSON.parse(ev.data).error + " · reconnecting";
    });
    es.onerror = async () => {
      if (es.readyState !== EventSource.CLOSED) { $("live").textContent = "reconnecting…"; return; }
      // The stream was refused outright: find out whether the session ended.
      const res = await fetch("/ui/api/summary", { method: "HEAD" }).catch(() => null);
      if (res && (res.status === 401 || res.status === 403)) { location.assign("/ui/login"); return; }
      $("live").textContent = "disconnected · retrying";
      setTimeout(connect, 3000);
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("plan-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      location.hash = "#plan/" + encodeURIComponent($("plan-branch").value.trim());
    });
    $("pod-container").addEventListener("change", (ev) => {
      const [ns, name] = current.args;
      tailLog(ns, name, ev.target.value);
    });
    window.addEventListener("hashchange", route);
    route();
    connect();
  });
})();
