// goes chat: plain JavaScript, no build step. Every piece of user data is
// put on the page with textContent, never as HTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let ws = null, me = null, room = null, wantClose = false, retry = 0;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function addItem(li) {
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.appendChild(li);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function notice(text, err) {
    addItem(el("li", "notice" + (err ? " err" : ""), text));
  }

  function said(m) {
    const li = el("li", "msg" + (m.nick === me ? " mine" : ""));
    li.appendChild(el("span", "who", m.nick));
    li.appendChild(el("span", "time", m.time || ""));
    li.appendChild(el("span", "text", m.text));
    addItem(li);
  }

  function presence(m) {
    $("online").textContent = (m.partial ? "≥ " : "") + m.online + " online";
    const rooms = $("rooms");
    rooms.replaceChildren();
    Object.keys(m.rooms || {}).sort().forEach((name) => {
      const li = el("li", name === room ? "current" : "");
      const b = el("button", "room");
      b.type = "button";
      b.appendChild(el("span", "name", "#" + name));
      b.appendChild(el("span", "count", String(m.rooms[name])));
      b.addEventListener("click", () => { showSide(false); if (name !== room) join(me, name); });
      li.appendChild(b);
      rooms.appendChild(li);
    });
    const members = $("members");
    members.replaceChildren();
    (m.members || []).forEach((n) => members.appendChild(el("li", "", n + (n === me ? " (you)" : ""))));
  }

  // showSide opens or closes the rooms panel; only phone widths show it as
  // a panel of its own, wider screens always show it.
  function showSide(open) {
    $("chat").classList.toggle("side-open", open);
    $("side-toggle").setAttribute("aria-expanded", String(open));
  }

  function onMessage(ev) {
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    switch (m.type) {
      case "welcome":
        me = m.nick; room = m.room;
        $("login").classList.add("hidden");
        $("chat").classList.remove("hidden");
        $("room-name").textContent = room;
        $("me").textContent = "as " + me;
        $("messages").replaceChildren();
        notice("You joined #" + room + ".");
        presence(m);
        showSide(false);
        $("text").focus();
        break;
      case "join": notice(m.nick + " joined."); break;
      case "leave": notice(m.nick + " left."); break;
      case "say": said(m); break;
      case "presence": presence(m); break;
      case "error":
        if (me === null) $("login-error").textContent = m.text;
        else notice(m.text, true);
        break;
    }
  }

  function connect(onopen) {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    ws = new WebSocket(url);
    ws.onopen = () => { retry = 0; $("conn-state").classList.add("on"); onopen(); };
    ws.onmessage = onMessage;
    ws.onclose = () => {
      $("conn-state").classList.remove("on");
      if (wantClose) return;
      if (me !== null) notice("Disconnected; reconnecting…", true);
      const nick = me, r = room;
      const delay = Math.min(10000, 500 * 2 ** retry++);
      setTimeout(() => { if (nick !== null) connect(() => send({ type: "join", nick: nick, room: r })); }, delay);
    };
  }

  function send(m) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
  }

  function join(nick, r) {
    const msg = { type: "join", nick: nick, room: r };
    if (ws && ws.readyState === WebSocket.OPEN) send(msg);
    else connect(() => send(msg));
  }

  $("join-form").addEventListener("submit", (e) => {
    e.preventDefault();
    $("login-error").textContent = "";
    join($("nick").value, $("room").value || "lobby");
  });
  $("room-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const r = $("new-room").value.trim();
    $("new-room").value = "";
    showSide(false);
    if (r) join(me, r);
  });
  $("side-toggle").addEventListener("click", () => showSide(!$("chat").classList.contains("side-open")));
  $("side-close").addEventListener("click", () => showSide(false));
  $("backdrop").addEventListener("click", () => showSide(false));
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") showSide(false); });
  $("say-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("text").value;
    if (!t.trim()) return;
    send({ type: "say", text: t });
    $("text").value = "";
  });
  window.addEventListener("beforeunload", () => { wantClose = true; if (ws) ws.close(1000, "bye"); });
})();
