// The web chat: posts messages, polls for replies. Text is set with textContent only.
(function () {
  var log = document.getElementById("log"), form = document.getElementById("send"), box = document.getElementById("text");
  var last = 0;
  function add(m) {
    var li = document.createElement("li");
    li.className = m.direction === "in" ? "out" : "in";
    li.dir = "auto";
    li.textContent = m.text;
    li.dataset.id = m.id;
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }
  function poll() {
    fetch("/chat/messages?after=" + last, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (data) {
        (data.messages || []).forEach(function (m) { if (m.id > last) { last = m.id; add(m); } });
        if (data.dir) { log.dir = data.dir; }
      }).catch(function () {}).finally(function () { setTimeout(poll, 1500); });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = box.value.trim();
    if (!text) { return; }
    fetch("/chat/messages", {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text: text, lang: (navigator.language || "").slice(0, 2)})})
      .then(function (r) { if (r.ok) { box.value = ""; } });
  });
  box.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
  poll();
})();
