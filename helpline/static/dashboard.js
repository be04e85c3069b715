// Dashboard: everything through the JSON API; live by short polling. Text is set with textContent only.
(function () {
  var csrf = "", me = null, current = null, seen = {};
  var $ = function (id) { return document.getElementById(id); };
  function api(method, path, body) {
    var opts = {method: method, credentials: "same-origin", headers: {"Accept": "application/json"}};
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    if (method !== "GET") { opts.headers["X-CSRF-Token"] = csrf; }
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (data) { if (!r.ok) { throw data; } return data; });
    });
  }
  function li(text, cls, onclick) {
    var el = document.createElement("li");
    el.dir = "auto"; el.textContent = text; if (cls) { el.className = cls; }
    if (onclick) { el.addEventListener("click", onclick); }
    return el;
  }
  function fill(list, items) { list.replaceChildren.apply(list, items); }
  function mins(iso) { return iso ? Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000)) + " min" : ""; }
  function showMain() {
    $("login").hidden = true; $("main").hidden = false;
    $("who").textContent = me.display_name + " (" + me.role + ")";
    $("available").checked = me.available;
    $("supervisor").hidden = me.role !== "supervisor";
    refresh(); setInterval(refresh, 2000);
  }
  function refresh() {
    api("GET", "/api/conversations?status=active").then(function (rows) {
      fill($("conversations"), rows.map(function (c) {
        var unread = seen[c.id] !== c.last_message_at && !(current === c.id);
        return li(c.contact_alias + " · " + (c.language || "?") + " · " + (c.topic || "") + " · " + mins(c.last_message_at),
          (c.priority >= 2 ? "crisis " : "") + (unread ? "unread" : ""), function () { open(c.id); });
      }));
    }).catch(function () {});
    api("GET", "/api/conversations?status=waiting").then(function (rows) {
      $("waiting-count").textContent = rows.length + " waiting";
      if (me.role === "supervisor") {
        fill($("queue"), rows.map(function (c) {
          return li(c.contact_alias + " · " + (c.language || "?") + " · waits " + mins(c.queued_at),
            c.priority >= 2 ? "crisis" : "", function () { open(c.id); });
        }));
      }
    }).catch(function () { $("waiting-count").textContent = ""; });
    if (me.role === "supervisor") {
      api("GET", "/api/escalations?status=open").then(function (rows) {
        fill($("escalations"), rows.map(function (e) {
          var el = li(e.code + " · " + e.category + " · open " + mins(e.created_at), "crisis");
          var b = document.createElement("button"); b.textContent = "Acknowledge";
          b.addEventListener("click", function (ev) { ev.stopPropagation(); api("POST", "/api/escalations/" + e.id + "/acknowledge").then(refresh); });
          el.appendChild(b); return el;
        }));
      }).catch(function () {});
      api("GET", "/api/metrics").then(function (m) { $("metrics").textContent = JSON.stringify(m, null, 1); }).catch(function () {});
    }
    if (current) { load(current); }
  }
  function load(id) {
    return api("GET", "/api/conversations/" + id).then(function (c) {
      seen[c.id] = c.last_message_at;
      $("conv-title").textContent = c.contact_alias + " · " + (c.language || "?") + " · " + c.status;
      $("transcript").dir = c.direction || "auto";
      fill($("transcript"), c.messages.map(function (m) {
        var cls = m.private ? "note" : (m.direction === "in" ? "in" : "out");
        if (m.flag) { cls += " flag"; }
        return li(m.text || "", cls);
      }));
    });
  }
  function open(id) { current = id; $("conversation").hidden = false; load(id); }
  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "/api/login", {email: $("email").value, password: $("password").value}).then(function (r) {
      csrf = r.csrf_token; me = r.staff; showMain();
    }).catch(function (err) { $("login-error").textContent = (err && err.detail) || "Login failed"; });
  });
  $("available").addEventListener("change", function () {
    api("PUT", "/api/me/availability", {available: $("available").checked}).then(function (s) { me = s; refresh(); });
  });
  $("reply").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("reply-text").value.trim(); if (!text || !current) { return; }
    api("POST", "/api/conversations/" + current + "/messages", {text: text, private: $("private").checked})
      .then(function () { $("reply-text").value = ""; load(current); });
  });
  $("close").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "/api/conversations/" + current + "/close", {outcome: $("outcome").value}).then(function () {
      current = null; $("conversation").hidden = true; refresh();
    });
  });
  $("requeue").addEventListener("click", function () {
    api("POST", "/api/conversations/" + current + "/transfer", {to: null, reason: "back to queue"}).then(function () {
      current = null; $("conversation").hidden = true; refresh();
    });
  });
  $("logout").addEventListener("click", function () { api("POST", "/api/logout").then(function () { location.reload(); }); });
  api("GET", "/api/me").then(function (m) { me = m; csrf = m.csrf_token; showMain(); }).catch(function () {});
})();
