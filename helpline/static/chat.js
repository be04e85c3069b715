// The web chat: posts messages, polls for replies. Text is set with textContent only.
(function () {
  var main = document.getElementById("chat"), log = document.getElementById("log"), form = document.getElementById("send");
  var box = document.getElementById("text"), notice = document.getElementById("notice"), lang = document.getElementById("lang");
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
  function say(text) { notice.textContent = text || ""; notice.hidden = !text; }
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
    // the page's language (chosen on the page, else the browser's) is the hint for the first answer
    fetch("/chat/messages", {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text: text, lang: document.documentElement.lang})})
      .then(function (r) {
        if (r.ok) { box.value = ""; say(""); }
        else { say(r.status === 429 ? main.dataset.rateLimited : main.dataset.notSent); }
      }).catch(function () { say(main.dataset.notSent); });
  });
  box.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
  lang.addEventListener("change", function () { lang.form.submit(); });
  poll();
})();
