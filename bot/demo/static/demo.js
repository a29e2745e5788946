// The demo page: a list of people, a chat as one of them, live through server-sent events.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const STICKERS = ["👍", "😀", "😍", "🙏", "😡", "🎉"];
  const OWNER_COMMANDS = ["/nps", "/nps by language", "/chart", "/export", "/comments",
    "/broadcast nps", "/help"];
  const COLORS = ["#e17076", "#7bc862", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];
  const state = {
    people: [],
    current: null, // the id of the open chat
    seen: {}, // chat id -> bot messages seen there (the rest are unread)
    nodes: new Map(), // message id -> its element, in the open chat
    count: 0, // messages shown in the open chat
    pinned: true, // the open chat is scrolled to its end
  };

  // --- talking to the server -------------------------------------------------------------

  async function api(path, body) {
    const init = { credentials: "same-origin" };
    if (body !== undefined) {
      init.method = "POST";
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (response.status === 401) {
      showAlert("This page's key has expired (the demo was restarted?). Open the address " +
        "npsbot demo printed in the terminal.");
    }
    if (!response.ok) throw new Error((data && data.error) || response.statusText);
    return data;
  }

  function act(path, body) {
    return api(path, body).catch((error) => toast(error.message));
  }

  // One fetch at a time per view; a change during a fetch fetches again after it.
  function coalesced(work) {
    let busy = false;
    let again = false;
    return async function run() {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        do {
          again = false;
          await work();
        } while (again);
      } catch (error) {
        console.warn(error);
      } finally {
        busy = false;
      }
    };
  }

  // --- the list of people ----------------------------------------------------------------

  function avatar(node, person) {
    node.textContent = (person.name || "?").slice(0, 1).toUpperCase();
    node.style.background = person.role === "owner" ? "#3390ec" : COLORS[person.id % COLORS.length];
  }

  function person(id) {
    return state.people.find((p) => p.id === id) || null;
  }

  function renderPeople() {
    const list = $("people");
    list.replaceChildren();
    for (const p of state.people) {
      if (p.id === state.current) state.seen[p.id] = p.bot_messages;
      const unread = p.bot_messages - (state.seen[p.id] || 0);
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "person" + (p.id === state.current ? " active" : "");
      button.dataset.id = String(p.id);
      const face = document.createElement("span");
      face.className = "avatar";
      avatar(face, p);
      const body = document.createElement("span");
      body.className = "person-body";
      const top = document.createElement("span");
      top.className = "person-top";
      const name = document.createElement("b");
      name.textContent = p.name;
      const tag = document.createElement("span");
      tag.className = "tag" + (p.role === "owner" ? " owner" : "");
      tag.textContent = p.role === "owner" ? "owner" : p.language.toUpperCase();
      tag.title = p.role === "owner" ? "The bot's owner (ADMIN_IDS)" : p.language_name;
      top.append(name, tag);
      const line = document.createElement("span");
      line.className = "preview";
      line.textContent = p.preview || (p.role === "owner" ? "Team commands" : p.language_name);
      body.append(top, line);
      button.append(face, body);
      if (unread > 0 && p.id !== state.current) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = String(unread);
        button.append(badge);
      }
      button.addEventListener("click", () => openChat(p.id));
      item.append(button);
      list.append(item);
    }
  }

  const refreshPeople = coalesced(async () => {
    const data = await api("/api/people");
    state.people = data.people;
    $("bot-name").textContent = "@" + data.bot.username + " · " + data.bot.name;
    $("traffic-box").hidden = !data.traffic;
    renderPeople();
    if (state.current !== null) renderHead();
  });

  // --- the open chat ---------------------------------------------------------------------

  function renderHead() {
    const p = person(state.current);
    if (!p) return;
    avatar($("chat-avatar"), p);
    $("chat-name").textContent = p.name;
    $("chat-sub").textContent = p.role === "owner"
      ? "owner · team commands · chatting with the bot"
      : "customer · " + p.language_name + " · chatting with the bot";
    $("chips").hidden = p.role !== "owner";
  }

  // What a message's buttons, commands and pictures do.
  const actions = {
    press: (id, row, column, node) => press(id, row, column, node),
    command: (text) => sendText(text),
    loaded: () => stickToBottom(false),
  };

  // Whether the chat shows its end: it then follows what arrives (pictures that load too).
  function atBottom() {
    const box = $("messages");
    return box.scrollHeight - box.scrollTop - box.clientHeight < 160;
  }

  function stickToBottom(force) {
    if (force || state.pinned) {
      const box = $("messages");
      box.scrollTop = box.scrollHeight;
      state.pinned = true;
    }
  }

  function renderChat(data) {
    const box = $("messages");
    const nearBottom = state.pinned || atBottom();
    const grew = data.messages.length > state.count;
    const keep = new Set();
    let before = box.firstChild;
    for (const m of data.messages) {
      const signature = JSON.stringify(m);
      let node = state.nodes.get(m.id);
      if (!node || node.dataset.signature !== signature) {
        const fresh = window.NpsRender.messageNode(m, actions);
        fresh.dataset.signature = signature;
        if (node) {
          if (node === before) before = fresh;
          node.replaceWith(fresh);
        }
        node = fresh;
        state.nodes.set(m.id, node);
      }
      if (node !== before) box.insertBefore(node, before);
      before = node.nextSibling;
      keep.add(m.id);
    }
    for (const [id, node] of state.nodes) {
      if (!keep.has(id)) {
        node.remove(); // deleted by the bot
        state.nodes.delete(id);
      }
    }
    state.count = data.messages.length;
    $("start-bar").hidden = data.messages.length > 0;
    renderReplyKeyboard(data.reply_keyboard);
    if (nearBottom || grew) stickToBottom(true);
  }

  function renderReplyKeyboard(rows) {
    const box = $("reply-kb");
    box.replaceChildren();
    box.hidden = !rows;
    for (const row of rows || []) {
      const line = document.createElement("div");
      line.className = "reply-row";
      for (const b of row) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.request_contact ? "📞 " + b.text : b.text;
        button.addEventListener("click", () => {
          if (b.request_contact) act(`/api/chats/${state.current}/contact`, {});
          else sendText(b.text);
        });
        line.append(button);
      }
      box.append(line);
    }
  }

  const refreshChat = coalesced(async () => {
    const id = state.current;
    if (id === null) return;
    const data = await api(`/api/chats/${id}`);
    if (id === state.current) renderChat(data);
  });

  function openChat(id) {
    if (location.hash !== "#chat-" + id) location.hash = "chat-" + id;
  }

  function route() {
    const match = /^#chat-(\d+)$/.exec(location.hash);
    const id = match ? Number(match[1]) : null;
    $("app").dataset.view = id === null ? "list" : "chat";
    if (id === state.current) return;
    state.current = id;
    state.nodes.clear();
    state.count = 0;
    state.pinned = true;
    $("messages").replaceChildren();
    $("stickers").hidden = true;
    $("chat-head").hidden = id === null;
    $("dock").hidden = id === null;
    $("placeholder").hidden = id !== null;
    if (id !== null) {
      renderHead();
      refreshChat();
      if (window.matchMedia("(min-width: 721px)").matches) $("text").focus();
    }
    renderPeople();
  }

  // --- acting as the person --------------------------------------------------------------

  function sendText(text) {
    if (state.current === null || !text.trim()) return;
    act(`/api/chats/${state.current}/send`, { text });
  }

  async function press(messageId, row, column, node) {
    node.classList.add("pending");
    node.disabled = true;
    try {
      const data = await api(`/api/chats/${state.current}/press`,
        { message_id: messageId, row, column });
      const answer = data && data.answer;
      if (answer && answer.text) {
        if (answer.show_alert) showAlert(answer.text);
        else toast(answer.text);
      }
    } catch (error) {
      toast(error.message);
    } finally {
      node.classList.remove("pending");
      node.disabled = false;
    }
  }

  let toastTimer = null;
  function toast(text) {
    const box = $("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 3500);
  }

  function showAlert(text) {
    $("alert-text").textContent = text;
    $("alert-box").hidden = false;
    $("alert-ok").focus();
  }

  async function simulate() {
    const button = $("traffic");
    button.disabled = true;
    button.textContent = "Simulating…";
    try {
      const s = await api("/api/traffic", {});
      toast(`${s.answers} answers added over the last 90 days · ` +
        `${s.live_detractors} detractor alerts sent to the owner`);
    } catch (error) {
      toast(error.message);
    } finally {
      button.disabled = false;
      button.textContent = "Simulate traffic";
    }
  }

  function setup() {
    for (const emoji of STICKERS) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = emoji;
      b.title = "Send this sticker";
      b.addEventListener("click", () => {
        $("stickers").hidden = true;
        act(`/api/chats/${state.current}/sticker`, { emoji });
      });
      $("stickers").append(b);
    }
    for (const command of OWNER_COMMANDS) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = command;
      b.addEventListener("click", () => sendText(command));
      $("chips").append(b);
    }
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("text");
      sendText(input.value);
      input.value = "";
    });
    $("sticker-btn").addEventListener("click", () => {
      $("stickers").hidden = !$("stickers").hidden;
    });
    $("photo-btn").addEventListener("click", () => act(`/api/chats/${state.current}/photo`, {}));
    $("start").addEventListener("click", () => sendText("/start"));
    $("back").addEventListener("click", () => { location.hash = ""; });
    $("traffic").addEventListener("click", simulate);
    $("alert-ok").addEventListener("click", () => { $("alert-box").hidden = true; });
    window.addEventListener("hashchange", route);
    window.addEventListener("resize", () => stickToBottom(false));
    $("messages").addEventListener("scroll", () => { state.pinned = atBottom(); });
  }

  function listen() {
    const events = new EventSource("/api/events");
    const live = $("live");
    events.addEventListener("hello", () => {
      live.classList.remove("off");
      refreshPeople();
      refreshChat();
    });
    events.addEventListener("change", (event) => {
      const change = JSON.parse(event.data);
      // Broadcasts also reach the simulated history's customers, whom the list does not show.
      if (change.chats.some((id) => person(id))) refreshPeople();
      if (change.chats.includes(state.current)) refreshChat();
    });
    events.addEventListener("error", () => live.classList.add("off"));
  }

  setup();
  route();
  refreshPeople().then(listen);
})();
