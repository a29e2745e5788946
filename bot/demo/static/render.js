// Messages as Telegram shows them: plain text plus entities (bold, links, code, …), pictures,
// files and inline keyboards, built as DOM nodes. Nothing from a message is parsed as HTML.
"use strict";

(function () {
  const SAFE_LINK = /^(https?:|tg:|mailto:)/i;
  const TAGS = {
    bold: "b",
    italic: "i",
    underline: "u",
    strikethrough: "s",
    code: "code",
    blockquote: "blockquote",
    expandable_blockquote: "blockquote",
  };

  function link(href) {
    const a = document.createElement("a");
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  // The element for one entity and the node its nested content goes into.
  function element(entity, content, options) {
    const tag = TAGS[entity.type];
    if (tag) {
      const node = document.createElement(tag);
      return { node, inner: node };
    }
    if (entity.type === "pre") {
      const node = document.createElement("pre");
      const code = document.createElement("code");
      node.append(code);
      return { node, inner: code };
    }
    if (entity.type === "text_link" && SAFE_LINK.test(entity.url || "")) {
      const a = link(entity.url);
      return { node: a, inner: a };
    }
    if (entity.type === "url" && /^https?:\/\//i.test(content)) {
      const a = link(content);
      return { node: a, inner: a };
    }
    if (entity.type === "bot_command" && options.onCommand) {
      const a = document.createElement("a");
      a.href = "#";
      a.className = "command";
      a.addEventListener("click", (event) => {
        event.preventDefault();
        options.onCommand(content);
      });
      return { node: a, inner: a };
    }
    const span = document.createElement("span");
    span.className = "entity " + String(entity.type).replace(/[^a-z_]/g, "");
    if (entity.type === "spoiler") {
      span.addEventListener("click", () => span.classList.add("shown"));
    }
    return { node: span, inner: span };
  }

  // Plain text, with /commands made links as Telegram clients do (when they can be sent).
  const COMMAND = /(^|[\s(])(\/[a-z][a-z0-9_]{0,31})(?![\w/@])/gi;
  function plain(parent, text, options) {
    if (!options.onCommand) {
      parent.append(text);
      return;
    }
    let pos = 0;
    for (const match of text.matchAll(COMMAND)) {
      const at = match.index + match[1].length;
      parent.append(text.slice(pos, at));
      const made = element({ type: "bot_command" }, match[2], options);
      made.node.textContent = match[2];
      parent.append(made.node);
      pos = at + match[2].length;
    }
    parent.append(text.slice(pos));
  }

  // Appends text[start, end) to parent, wrapping the entities of `list` (sorted by offset,
  // longest first) and, recursively, the ones nested in them.
  function build(parent, text, start, end, list, options) {
    let pos = start;
    let i = 0;
    while (i < list.length) {
      const entity = list[i];
      if (entity.offset < pos || entity.offset >= end) {
        i += 1; // overlaps the one before (Telegram does not send that): shown plain
        continue;
      }
      const stop = Math.min(entity.offset + entity.length, end);
      if (entity.offset > pos) plain(parent, text.slice(pos, entity.offset), options);
      const inner = [];
      let j = i + 1;
      while (j < list.length && list[j].offset < stop) {
        inner.push(list[j]);
        j += 1;
      }
      const made = element(entity, text.slice(entity.offset, stop), options);
      // No command links inside a link or code.
      const nested = made.node.tagName === "A" || made.node.tagName === "PRE" ||
        made.node.tagName === "CODE" ? {} : options;
      build(made.inner, text, entity.offset, stop, inner, nested);
      parent.append(made.node);
      pos = stop;
      i = j;
    }
    if (pos < end) plain(parent, text.slice(pos, end), options);
  }

  // A fragment for `text` with its `entities` (offsets in UTF-16 units, as JS strings are).
  function renderText(text, entities, options) {
    const fragment = document.createDocumentFragment();
    const valid = (entities || [])
      .filter((e) => e.length > 0 && e.offset >= 0 && e.offset + e.length <= text.length)
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    build(fragment, text, 0, text.length, valid, options || {});
    return fragment;
  }

  // --- a whole message: media, text, time and inline keyboard -------------------------

  function time(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  }

  function size(bytes) {
    return bytes < 1024 ? bytes + " B" : bytes < 1048576 ? (bytes / 1024).toFixed(1) + " KB"
      : (bytes / 1048576).toFixed(1) + " MB";
  }

  function keyboard(m, actions) {
    const box = document.createElement("div");
    box.className = "ikb";
    m.keyboard.forEach((row, r) => {
      const line = document.createElement("div");
      line.className = "ikb-row";
      row.forEach((b, c) => {
        let node;
        if (b.url) {
          node = document.createElement("a");
          node.href = /^(https?:|tg:)/i.test(b.url) ? b.url : "#";
          node.target = "_blank";
          node.rel = "noopener noreferrer";
          node.textContent = b.text + " ↗";
        } else {
          node = document.createElement("button");
          node.type = "button";
          node.textContent = b.text;
          node.addEventListener("click", () => actions.press(m.id, r, c, node));
        }
        node.className = "ikb-btn";
        line.append(node);
      });
      box.append(line);
    });
    return box;
  }

  function messageNode(m, actions) {
    const wrap = document.createElement("div");
    wrap.className = "msg " + (m.from_bot ? "in" : "out");
    wrap.dataset.id = String(m.id);
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    if (m.sticker) {
      bubble.classList.add("sticker");
      bubble.textContent = m.sticker;
    }
    if (m.photo) {
      if (!m.text) bubble.classList.add("media");
      const img = document.createElement("img");
      img.className = "photo";
      img.src = m.photo.url;
      img.alt = m.from_bot ? "A picture from the bot" : "Your photo";
      if (m.photo.width && m.photo.height) {
        img.width = m.photo.width;
        img.height = m.photo.height;
      }
      img.addEventListener("load", actions.loaded);
      bubble.append(img);
    }
    if (m.document) {
      const a = document.createElement("a");
      a.className = "doc";
      a.href = m.document.url + "?download=1";
      a.download = m.document.name || "file";
      const icon = document.createElement("span");
      icon.className = "doc-icon";
      icon.textContent = (m.document.name || "").split(".").pop().slice(0, 4).toUpperCase() || "FILE";
      const label = document.createElement("span");
      label.className = "doc-label";
      const name = document.createElement("b");
      name.textContent = m.document.name || "file";
      const meta = document.createElement("small");
      meta.textContent = size(m.document.size) + " · download";
      label.append(name, meta);
      a.append(icon, label);
      bubble.append(a);
    }
    if (m.contact) {
      const card = document.createElement("div");
      card.className = "contact";
      card.textContent = "📞 " + (m.contact.first_name || "") + " · +" +
        String(m.contact.phone_number || "").replace(/^\+/, "");
      bubble.append(card);
    }
    if (m.text) {
      const text = document.createElement("div");
      text.className = "text";
      text.append(renderText(m.text, m.entities, { onCommand: actions.command }));
      bubble.append(text);
    }
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = (m.edited ? "edited " : "") + time(m.date);
    bubble.append(meta);
    wrap.append(bubble);
    if (m.keyboard.length) wrap.append(keyboard(m, actions));
    return wrap;
  }

  window.NpsRender = { renderText, messageNode };
})();
