// Dashboard: everything through the JSON API; live by short polling; timers tick every second.
// Every text from the server is set with textContent, never as HTML.
(function () {
  "use strict";
  var root = document.getElementById("app");
  var RTL = (root.dataset.rtl || "").split(",");
  var state = {csrf: "", me: null, view: "inbox", current: null, conv: null, seen: {}, staff: [], timer: null};
  var $ = function (id) { return document.getElementById(id); };

  // -- small helpers -----------------------------------------------------------
  function api(method, path, body) {
    var opts = {method: method, credentials: "same-origin", headers: {"Accept": "application/json"}};
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    if (method !== "GET") { opts.headers["X-CSRF-Token"] = state.csrf; }
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (data) {
        if (r.status === 401 && state.me) { location.reload(); }
        if (!r.ok) { throw data; }
        return data;
      });
    });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "onclick") { node.addEventListener("click", attrs[k]); }
      else if (k === "className") { node.className = attrs[k]; }
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return node;
  }
  function fill(list, items) { list.replaceChildren.apply(list, items); }
  function since(iso) { return iso ? el("span", {"data-since": iso, className: "timer"}) : el("span", {text: "—"}); }
  function fmtSeconds(s) {
    if (s === null || s === undefined) { return "—"; }
    s = Math.max(0, Math.round(s));
    if (s < 60) { return s + " s"; }
    if (s < 3600) { return Math.floor(s / 60) + " min " + (s % 60 ? (s % 60) + " s" : ""); }
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }
  function tick() {
    document.querySelectorAll("[data-since]").forEach(function (n) {
      n.textContent = fmtSeconds((Date.now() - Date.parse(n.dataset.since)) / 1000);
    });
  }
  function flash(text, bad) {
    var f = $("flash"); f.textContent = text; f.hidden = false; f.className = "flash" + (bad ? " bad" : "");
    clearTimeout(flash.t); flash.t = setTimeout(function () { f.hidden = true; }, 5000);
  }
  function failed(err) { flash((err && (typeof err.detail === "string" ? err.detail : JSON.stringify(err.detail))) || "That did not work", true); }
  function can(roles) { return !roles || roles.split(" ").indexOf(state.me.role) >= 0; }
  function csv(value) { return value.split(",").map(function (x) { return x.trim(); }).filter(Boolean); }
  function staffName(id) {
    var s = state.staff.filter(function (x) { return x.id === id; })[0];
    return s ? s.display_name : (id ? "#" + id : "—");
  }
  function priority(p) { return p >= 2 ? el("span", {className: "badge crisis", text: "crisis"}) : p === 1 ? el("span", {className: "badge medium", text: "needs a look"}) : el("span", {text: "normal"}); }

  // -- views -------------------------------------------------------------------
  function showView(view) {
    state.view = view;
    document.querySelectorAll("#tabs button").forEach(function (b) { b.classList.toggle("active", b.dataset.view === view); });
    document.querySelectorAll("#views > section").forEach(function (s) { s.hidden = s.dataset.view !== view; });
    refresh();
  }
  function showMain() {
    $("login").hidden = true; $("main").hidden = false;
    $("who").textContent = state.me.name + " (" + state.me.role + ")";
    $("display-name").value = state.me.display_name;
    $("available").checked = state.me.available;
    $("block-box").hidden = state.me.role !== "supervisor";
    document.querySelectorAll("#tabs button").forEach(function (b) {
      b.hidden = !can(b.dataset.roles);
      b.addEventListener("click", function () { showView(b.dataset.view); });
    });
    refresh(); setInterval(refresh, 2000); setInterval(tick, 1000);
    if (state.me.role === "supervisor") { metrics(); setInterval(function () { if (state.view === "metrics") { metrics(); } }, 15000); }
  }
  function refresh() {
    api("GET", "/api/staff").then(function (rows) {
      state.staff = rows;
      var me = rows.filter(function (x) { return x.id === state.me.id; })[0];
      if (me && state.me.available && !me.available) {  // the scheduler takes a volunteer who went quiet off shift
        flash("You are off shift: a conversation assigned to you was not opened in time and went to a colleague. Switch your shift on again when you are back.", true);
      }
      if (me) { state.me.available = me.available; $("available").checked = me.available; }
      if (state.view === "staff") { renderStaff(); } if (state.view === "team") { renderTeam(); }
    }).catch(function () {});
    api("GET", "/api/conversations?status=active").then(renderInbox).catch(function () {});
    api("GET", "/api/conversations?status=waiting").then(function (rows) {
      $("waiting-count").textContent = rows.length + " waiting";
      if (state.view === "queue") { renderQueue(rows); }
    }).catch(function () { $("waiting-count").textContent = ""; });
    if (state.view === "all") {
      api("GET", "/api/conversations?status=" + $("all-status").value).then(renderAll).catch(function () {});
    }
    if (can("supervisor professional")) {
      api("GET", "/api/escalations?status=open").then(function (open) {
        $("esc-count").hidden = !open.length; $("esc-count").textContent = open.length;
        if (state.view === "escalations" && $("esc-status").value === "open") { renderEscalations(open); }
      }).catch(function () {});
      if (state.view === "escalations" && $("esc-status").value !== "open") {
        api("GET", "/api/escalations?status=" + $("esc-status").value).then(renderEscalations).catch(function () {});
      }
    }
    if (state.current) { load(state.current); }
  }
  function renderInbox(rows) {
    var mine = state.me.role === "supervisor" ? rows.filter(function (c) { return c.assigned_to === state.me.id; }) : rows;
    $("conversations-empty").hidden = mine.length > 0;
    fill($("conversations"), mine.map(function (c) {
      if (state.current === c.id) { state.seen[c.id] = c.last_message_at; }
      var unread = state.seen[c.id] !== c.last_message_at;
      return el("li", {className: (c.priority >= 2 ? "crisis " : "") + (unread ? "unread" : ""), dir: "auto",
                       onclick: function () { open(c.id); }}, [
        el("strong", {text: c.contact_alias}), " · " + (c.language || "?") + (c.topic ? " · " + c.topic : "") + " · last message ",
        since(c.last_message_at), unread ? el("span", {className: "badge", text: "new"}) : null]);
    }));
    tick();
  }
  function row(cells, onclick, cls) {
    return el("tr", {onclick: onclick, className: cls || ""}, cells.map(function (c) { return el("td", {}, [c]); }));
  }
  function renderQueue(rows) {
    fill($("queue"), rows.map(function (c) {
      return row([el("span", {text: c.contact_alias}), c.language || "?", c.topic || "", priority(c.priority), since(c.queued_at)],
                 function () { open(c.id); }, c.priority >= 2 ? "crisis" : "");
    }));
    tick();
  }
  function renderAll(rows) {
    fill($("all"), rows.map(function (c) {
      return row([el("span", {text: c.contact_alias}), c.language || "?", c.status, staffName(c.assigned_to), since(c.last_message_at)],
                 function () { open(c.id); }, c.priority >= 2 ? "crisis" : "");
    }));
    tick();
  }
  function renderEscalations(rows) {
    // the list is redrawn every refresh: what a supervisor is typing into a resolve form, and where, is kept
    var typed = {}, focus = document.activeElement, focused = null;
    $("escalations").querySelectorAll("form.resolve").forEach(function (f) {
      typed[f.dataset.id] = {outcome: f.elements.outcome.value, notes: f.elements.notes.value};
      if (f.contains(focus)) { focused = [f.dataset.id, focus.name, focus.selectionStart, focus.selectionEnd]; }
    });
    renderEscalationRows(rows);
    $("escalations").querySelectorAll("form.resolve").forEach(function (f) {
      var t = typed[f.dataset.id];
      if (t) { f.elements.outcome.value = t.outcome; f.elements.notes.value = t.notes; }
      if (focused && focused[0] === f.dataset.id && f.elements[focused[1]]) {
        var input = f.elements[focused[1]];
        input.focus();
        try { input.setSelectionRange(focused[2], focused[3]); } catch (err) { /* not a text input */ }
      }
    });
  }
  function renderEscalationRows(rows) {
    fill($("escalations"), rows.map(function (e) {
      var buttons = el("td", {className: "buttons"});
      if (e.status === "open") {
        buttons.appendChild(el("button", {type: "button", className: "danger", text: "Acknowledge", onclick: function (ev) {
          ev.stopPropagation(); api("POST", "/api/escalations/" + e.id + "/acknowledge").then(function () { flash("Acknowledged " + e.code); refresh(); }).catch(failed);
        }}));
      }
      if (e.status !== "resolved" && e.conversation_id) {
        buttons.appendChild(el("button", {type: "button", text: "Take over", onclick: function (ev) {
          ev.stopPropagation(); api("POST", "/api/escalations/" + e.id + "/take").then(function (c) { open(c.id); }).catch(failed);
        }}));
      }
      if (e.status !== "resolved") {
        var form = el("form", {className: "inline resolve", "data-id": String(e.id)}, [
          el("input", {name: "outcome", placeholder: "Outcome", required: "required", maxlength: "64"}),
          el("input", {name: "notes", placeholder: "Notes", dir: "auto"}),
          el("button", {type: "submit", text: "Resolve"})]);
        form.addEventListener("click", function (ev) { ev.stopPropagation(); });
        form.addEventListener("submit", function (ev) {
          ev.preventDefault();
          api("POST", "/api/escalations/" + e.id + "/resolve", {outcome: form.elements.outcome.value, notes: form.elements.notes.value || null})
            .then(function () { flash("Resolved " + e.code); refresh(); }).catch(failed);
        });
        buttons.appendChild(form);
      } else {
        buttons.appendChild(el("span", {text: "outcome: " + (e.outcome || "")}));
      }
      return row([el("strong", {text: e.code}), e.category, e.status, since(e.created_at),
                  e.status === "open" ? since(e.last_paged_at) : el("span", {text: "—"}), String(e.pages.length),
                  staffName(e.acknowledged_by), buttons],
                 e.conversation_id && state.me.role === "supervisor" ? function () { open(e.conversation_id); } : null,
                 e.status === "open" ? "crisis" : "");
    }));
    tick();
  }
  function renderTeam() {
    var onShift = state.staff.filter(function (s) { return s.available && s.active !== false; });
    fill($("team"), onShift.map(function (s) {
      return row([s.display_name + (s.name && s.name !== s.display_name ? " (" + s.name + ")" : ""), s.role,
                  s.languages.join(", "), s.load + " / " + s.max_conversations, s.trained === false ? "expired" : "valid"]);
    }));
    if (!onShift.length) { fill($("team"), [row(["Nobody is on shift.", "", "", "", ""])]); }
  }
  function renderStaff() {
    if (document.activeElement && $("staff").contains(document.activeElement)) { return; }  // don't clobber an edit
    fill($("staff"), state.staff.map(function (s) {
      var f = {
        languages: el("input", {value: s.languages.join(", "), size: "8"}),
        max: el("input", {type: "number", min: "1", max: "50", value: s.max_conversations, className: "num"}),
        trained: el("input", {type: "date", value: s.trained_until || "", className: s.trained === false ? "expired" : "",
                              title: s.trained === false ? "training expired: not matched with contacts" : null}),
        available: el("input", {type: "checkbox", checked: s.available ? "checked" : null}),
        active: el("input", {type: "checkbox", checked: s.active ? "checked" : null})
      };
      var save = el("button", {type: "button", text: "Save", onclick: function () {
        api("PATCH", "/api/staff/" + s.id, {languages: csv(f.languages.value), max_conversations: parseInt(f.max.value, 10),
          trained_until: f.trained.value || null, available: f.available.checked, active: f.active.checked})
          .then(function () { flash("Saved " + s.name); document.activeElement.blur(); refresh(); }).catch(failed);
      }});
      return row([s.name, s.email, s.role, f.languages, f.max, f.trained, f.available, f.active, save], null,
                 s.active ? "" : "inactive");
    }));
  }
  function metrics() {
    api("GET", "/api/metrics").then(function (m) {
      fill($("metric-cards"), [["Waiting", m.waiting], ["Active", m.active], ["Answered", m.answered], ["Abandoned", m.abandoned],
        ["Median wait", fmtSeconds(m.median_wait_seconds)], ["90th percentile wait", fmtSeconds(m.p90_wait_seconds)],
        ["Open escalations", m.escalations.open]].map(function (c) {
        return el("div", {className: "card-metric"}, [el("span", {text: c[0]}), el("strong", {text: String(c[1])})]);
      }));
      var days = {}, langs = {};
      m.volume_per_day.forEach(function (d) {
        days[d.day] = days[d.day] || {}; days[d.day][d.language] = d.count;
        langs[d.language] = (langs[d.language] || 0) + d.count;
      });
      var last30 = [];
      for (var i = 29; i >= 0; i--) { last30.push(new Date(Date.now() - i * 86400000).toISOString().slice(0, 10)); }
      var names = Object.keys(m.per_language).sort();  // one colour per language in both charts
      var colour = function (name) { var i = names.indexOf(name); return COLOURS[(i < 0 ? names.length : i) % COLOURS.length]; };
      stacked($("chart-days"), last30.map(function (d) { return [d.slice(5), days[d] || {}]; }), Object.keys(langs).sort(), colour);
      bars($("chart-languages"), names.map(function (k) { return [k, m.per_language[k]]; }), colour);
      var waits = {};
      (m.wait_per_day || []).forEach(function (d) { waits[d.day] = d; });
      waitChart($("chart-waits"), last30.map(function (d) { return [d.slice(5), waits[d] || null]; }));
      bars($("chart-outcomes"), Object.keys(m.escalations_by_outcome).map(function (k) { return [k, m.escalations_by_outcome[k]]; }));
    }).catch(function () {});
  }

  // -- charts: plain SVG, no library -------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";
  var COLOURS = ["#3366aa", "#cc6633", "#339966", "#aa3377", "#998833", "#5577cc", "#884422", "#22aaaa", "#7744aa", "#aa4444", "#557722", "#666666"];
  function svg(tag, attrs, text) {
    var n = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) { n.textContent = text; }
    return n;
  }
  function waitChart(box, columns) {
    // median and 90th percentile wait per day, as pairs of bars; days without assignments stay empty
    var seen = columns.filter(function (c) { return c[1]; });
    if (!seen.length) { fill(box, [el("p", {className: "empty", text: "Nothing yet."})]); return; }
    var max = Math.max.apply(null, seen.map(function (c) { return c[1].p90; })) || 1, H = 160, bw = 8, gap = 8;
    var chart = svg("svg", {viewBox: "0 0 " + (columns.length * (2 * bw + gap) + 50) + " " + (H + 40), role: "img", width: "100%"});
    chart.appendChild(svg("text", {x: 0, y: 12, "font-size": 11}, fmtSeconds(max)));
    columns.forEach(function (c, i) {
      var x = 40 + i * (2 * bw + gap);
      if (c[1]) {
        [["median", c[1].median, COLOURS[0]], ["90th percentile", c[1].p90, COLOURS[1]]].forEach(function (v, j) {
          var bh = Math.max(1, H * v[1] / max);
          var r = svg("rect", {x: x + j * bw, y: H + 10 - bh, width: bw, height: bh, fill: v[2]});
          r.appendChild(svg("title", {}, c[0] + " · " + v[0] + " wait: " + fmtSeconds(v[1]) + " (" + c[1].count + " answered)"));
          chart.appendChild(r);
        });
      }
      if (i % 5 === 4 || i === columns.length - 1) { chart.appendChild(svg("text", {x: x - 4, y: H + 26, "font-size": 9}, c[0])); }
    });
    var legend = el("p", {className: "legend"}, [["median", COLOURS[0]], ["90th percentile", COLOURS[1]]].map(function (s) {
      return el("span", {}, [el("i", {className: "swatch", style: "background:" + s[1]}), s[0] + " "]);
    }));
    fill(box, [chart, legend]);
  }
  function bars(box, items, colour) {
    if (!items.length) { fill(box, [el("p", {className: "empty", text: "Nothing yet."})]); return; }
    var max = Math.max.apply(null, items.map(function (i) { return i[1]; })) || 1, h = 22, w = 420;
    var chart = svg("svg", {viewBox: "0 0 " + (w + 160) + " " + (items.length * h + 4), role: "img", width: "100%"});
    items.forEach(function (it, i) {
      var bw = Math.max(2, Math.round(w * it[1] / max));
      chart.appendChild(svg("text", {x: 0, y: i * h + 15, "font-size": 12}, it[0]));
      var bar = svg("rect", {x: 120, y: i * h + 3, width: bw, height: h - 6, fill: colour ? colour(it[0]) : COLOURS[i % COLOURS.length]});
      bar.appendChild(svg("title", {}, it[0] + ": " + it[1]));
      chart.appendChild(bar);
      chart.appendChild(svg("text", {x: 124 + bw, y: i * h + 15, "font-size": 12}, String(it[1])));
    });
    fill(box, [chart]);
  }
  function stacked(box, columns, series, colour) {
    if (!series.length) { fill(box, [el("p", {className: "empty", text: "Nothing yet."})]); return; }
    var totals = columns.map(function (c) { return series.reduce(function (a, s) { return a + (c[1][s] || 0); }, 0); });
    var max = Math.max.apply(null, totals) || 1, H = 160, bw = 18, gap = 6;
    var chart = svg("svg", {viewBox: "0 0 " + (columns.length * (bw + gap) + 40) + " " + (H + 40), role: "img", width: "100%"});
    chart.appendChild(svg("text", {x: 0, y: 12, "font-size": 11}, String(max)));
    columns.forEach(function (c, i) {
      var y = H + 10, x = 30 + i * (bw + gap);
      series.forEach(function (s, j) {
        var v = c[1][s] || 0; if (!v) { return; }
        var bh = H * v / max; y -= bh;
        var r = svg("rect", {x: x, y: y, width: bw, height: bh, fill: colour(s)});
        r.appendChild(svg("title", {}, c[0] + " · " + s + ": " + v));
        chart.appendChild(r);
      });
      if (i % 5 === 4 || i === columns.length - 1) { chart.appendChild(svg("text", {x: x - 4, y: H + 26, "font-size": 9}, c[0])); }
    });
    var legend = el("p", {className: "legend"}, series.map(function (s, j) {
      return el("span", {}, [el("i", {className: "swatch", style: "background:" + colour(s)}), s + " "]);
    }));
    fill(box, [chart, legend]);
  }

  // -- one conversation --------------------------------------------------------
  function load(id) {
    return api("GET", "/api/conversations/" + id).then(function (c) {
      var fresh = !state.conv || state.conv.id !== c.id;
      state.conv = c; state.seen[c.id] = c.last_message_at;
      $("conv-title").textContent = c.contact_alias + " · " + (c.language || "?") + " · " + c.status +
        (c.assigned_to && c.assigned_to !== state.me.id ? " · with " + staffName(c.assigned_to) : "");
      fill($("conv-badges"), [priority(c.priority)]);
      var dir = RTL.indexOf(c.language) >= 0 ? "rtl" : (c.direction || "auto");
      $("transcript").dir = dir; $("reply-text").dir = dir;
      var atBottom = $("transcript").scrollTop + $("transcript").clientHeight >= $("transcript").scrollHeight - 20;
      fill($("transcript"), c.messages.map(function (m) {
        var cls = m.private ? "note" : (m.direction === "in" ? "in" : "out");
        if (m.flag) { cls += " flag"; }
        var who = m.direction === "in" ? c.contact_alias : (m.private ? "note · " : "") + (m.author && m.author.indexOf("staff:") === 0 ? staffName(parseInt(m.author.slice(6), 10)) : "helpline");
        return el("li", {className: cls}, [el("small", {dir: "auto", text: who + " · " + new Date(m.sent_at).toLocaleTimeString() + (m.flag ? " · screening: " + m.flag : "")}),
          el("span", {className: "text", dir: "auto", text: m.text === null ? "(removed)" : m.text})]);
      }));
      if (fresh || atBottom) { $("transcript").scrollTop = $("transcript").scrollHeight; }
      var mine = c.assigned_to === state.me.id;
      $("reply").querySelector("button[type=submit]").textContent = mine ? "Send" : "Add private note";
      $("private").checked = mine ? $("private").checked : true; $("private").disabled = !mine;
      if (fresh) { cannedFor(c); transferTargets(c); }
    });
  }
  function cannedFor(c) {
    api("GET", "/api/conversations/" + c.id + "/canned").then(function (r) {
      fill($("canned"), [el("option", {value: "", text: "— choose —"})].concat(r.responses.map(function (x) {
        return el("option", {value: x.text, title: x.text, text: x.label});
      })));
    }).catch(function () {});
  }
  function transferTargets(c) {
    var opts = [el("option", {value: "", text: "back to the queue"})];
    state.staff.filter(function (s) { return s.id !== state.me.id && s.role !== "supervisor" && s.active !== false; })
      .sort(function (a, b) { return (b.languages.indexOf(c.language) >= 0) - (a.languages.indexOf(c.language) >= 0); })
      .forEach(function (s) {
        opts.push(el("option", {value: String(s.id), text: s.display_name + " · " + s.languages.join("/") + " · " + s.load + "/" + s.max_conversations + (s.available ? "" : " · off shift")}));
      });
    fill($("transfer-to"), opts);
  }
  function open(id) {
    state.current = id; state.conv = null; $("conversation").hidden = false;
    document.querySelectorAll("#conversation details").forEach(function (d) { d.open = false; });
    load(id).catch(function (err) { failed(err); closePanel(); });
  }
  function closePanel() { state.current = null; state.conv = null; $("conversation").hidden = true; refresh(); }
  function act(path, body, done) {
    return api("POST", "/api/conversations/" + state.current + path, body).then(function (r) { flash(done); return r; }).catch(failed);
  }

  // -- forms -------------------------------------------------------------------
  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "/api/login", {email: $("email").value, password: $("password").value}).then(function (r) {
      state.csrf = r.csrf_token; state.me = r.staff; showMain();
    }).catch(function (err) { $("login-error").textContent = (err && err.detail) || "Login failed"; });
  });
  $("name-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("PUT", "/api/me", {display_name: $("display-name").value}).then(function (s) { state.me.display_name = s.display_name; flash("Contacts now see you as " + s.display_name); }).catch(failed);
  });
  $("available").addEventListener("change", function () {
    api("PUT", "/api/me/availability", {available: $("available").checked}).then(function (s) { state.me.available = s.available; refresh(); }).catch(failed);
  });
  $("canned").addEventListener("change", function () {
    if (!$("canned").value) { return; }
    var box = $("reply-text"); box.value = (box.value ? box.value + "\n" : "") + $("canned").value;
    $("canned").value = ""; box.focus();
  });
  $("reply").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("reply-text").value.trim(); if (!text || !state.current) { return; }
    api("POST", "/api/conversations/" + state.current + "/messages", {text: text, private: $("private").checked})
      .then(function () { $("reply-text").value = ""; load(state.current); }).catch(failed);
  });
  $("transfer").addEventListener("submit", function (e) {
    e.preventDefault();
    var to = $("transfer-to").value ? parseInt($("transfer-to").value, 10) : null;
    act("/transfer", {to: to, reason: $("transfer-reason").value}, to ? "Transferred to " + staffName(to) : "Back in the queue").then(function (r) { if (r) { closePanel(); } });
  });
  $("escalate").addEventListener("submit", function (e) {
    e.preventDefault();
    act("/escalate", {category: $("escalate-category").value, reason: $("escalate-reason").value || null},
        "Escalated: the on-call professional is being paged").then(function () { load(state.current); });
  });
  $("flag").addEventListener("submit", function (e) {
    e.preventDefault();
    act("/flag", {reason: $("flag-reason").value}, "Flagged for a supervisor");
  });
  $("block").addEventListener("submit", function (e) {
    e.preventDefault();
    act("/block", {reason: $("block-reason").value, until: $("block-until").value}, "Blocked").then(function () { load(state.current); });
  });
  $("unblock").addEventListener("click", function () { act("/unblock", undefined, "Unblocked"); });
  $("close").addEventListener("submit", function (e) {
    e.preventDefault();
    act("/close", {outcome: $("outcome").value, notes: $("close-notes").value || null, tags: csv($("close-tags").value)}, "Closed")
      .then(function (r) { if (r) { $("close-notes").value = ""; $("close-tags").value = ""; closePanel(); } });
  });
  $("conv-close-panel").addEventListener("click", closePanel);
  $("all-status").addEventListener("change", refresh);
  $("esc-status").addEventListener("change", refresh);
  $("staff-new").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target.elements, body = {name: f.name.value, email: f.email.value, role: f.role.value, languages: csv(f.languages.value),
      topics: csv(f.topics.value), max_conversations: parseInt(f.max_conversations.value, 10) || 3,
      trained_until: f.trained_until.value || null, password: f.password.value};
    api("POST", "/api/staff", body).then(function (s) { flash("Added " + s.name); e.target.reset(); refresh(); }).catch(failed);
  });
  $("logout").addEventListener("click", function () { api("POST", "/api/logout").then(function () { location.reload(); }); });
  api("GET", "/api/me").then(function (m) { state.me = m; state.csrf = m.csrf_token; showMain(); }).catch(function () {});
})();
