// The fakechat page: a websocket to the server that keeps the conversation, and a composer.
// Every entry (message or permission card) arrives whole and is drawn by id, so a new message,
// an edit, a delivery receipt and a card's outcome are all the same thing: an upsert.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const scroller = $("scroller");
  const form = $("composer");
  const textBox = $("text");
  const fileInput = $("file");
  const sendButton = $("send");

  const nodes = new Map(); // entry id -> element
  const entries = new Map(); // entry id -> latest entry
  const unsent = new Map(); // id -> frame text, until the server echoes the message
  const tabToken = Math.random().toString(36).slice(2, 6);
  let counter = 0;
  let ws = null;
  let session = null;
  let retries = 0;
  let reconnectTimer = null;
  let attachment = null;
  let unseen = 0;
  let limits = { max_message: 256 * 1024, max_upload: 50 * 1024 * 1024 };

  const newId = () => `u${Date.now()}-${tabToken}-${++counter}`;
  const encoder = new TextEncoder();

  // ---------------------------------------------------------------- formatting

  function clock(ts) {
    return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function timeElement(ts) {
    const t = document.createElement("time");
    const date = new Date(ts);
    t.dateTime = date.toISOString();
    t.title = date.toLocaleString();
    t.textContent = clock(ts);
    return t;
  }

  function size(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A little Markdown, built as DOM nodes (never innerHTML): ``` blocks, `code`, **bold**, links.
  const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(https?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]])/g;

  function inline(text, parent) {
    let last = 0;
    for (const match of text.matchAll(INLINE)) {
      if (match.index > last) parent.append(text.slice(last, match.index));
      const [whole, code, bold, url] = match;
      if (code) parent.append(el("code", "", code.slice(1, -1)));
      else if (bold) parent.append(el("strong", "", bold.slice(2, -2)));
      else if (url) {
        const a = el("a", "", url);
        a.href = url;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        parent.append(a);
      }
      last = match.index + whole.length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  function paragraphs(text, parent) {
    for (const block of text.split(/\n{2,}/)) {
      if (!block.trim()) continue;
      const p = el("p");
      block.split("\n").forEach((line, i) => {
        if (i) p.append(el("br"));
        inline(line, p);
      });
      parent.append(p);
    }
  }

  function renderText(text, parent) {
    text.split("```").forEach((part, i) => {
      if (i % 2 === 0) {
        paragraphs(part, parent);
        return;
      }
      const newline = part.indexOf("\n");
      const code = newline >= 0 && /^[\w+#.-]*$/.test(part.slice(0, newline)) ? part.slice(newline + 1) : part;
      const pre = el("pre");
      pre.append(el("code", "", code.replace(/\n$/, "")));
      parent.append(pre);
    });
  }

  function pretty(preview) {
    try {
      return JSON.stringify(JSON.parse(preview), null, 2);
    } catch {
      return preview;
    }
  }

  // ---------------------------------------------------------------- drawing entries

  function quoteText(id) {
    const quoted = entries.get(id);
    if (!quoted) return "an earlier message";
    const text = (quoted.text || "").replace(/\s+/g, " ").trim();
    if (text) return text.length > 80 ? `${text.slice(0, 80)}…` : text;
    return quoted.files && quoted.files.length ? `(${quoted.files[0].name})` : "an earlier message";
  }

  const STATES = {
    sending: "sending…",
    waiting: "waiting for Claude Code",
    delivered: "✓ delivered",
  };

  function drawMessage(entry) {
    const mine = entry.from === "user";
    const node = el("article", `msg ${mine ? "user" : "assistant"}`);
    const meta = el("div", "meta");
    meta.append(el("span", "who", mine ? "You" : "Claude"), timeElement(entry.ts));
    if (entry.edited) {
      const edited = el("span", "edited", "edited");
      edited.title = `edited ${new Date(entry.edited).toLocaleString()}`;
      meta.append(edited);
    }
    if (entry.error) {
      meta.append(el("span", "state error", entry.error));
      node.classList.add("failed");
    } else if (entry.answers) {
      meta.append(el("span", "state", `answers ${entry.answers}`));
    } else if (mine && STATES[entry.status]) {
      meta.append(el("span", "state", STATES[entry.status]));
    }
    const bubble = el("div", "bubble");
    if (entry.replyTo) {
      const quote = el("div", "quote", `↳ ${quoteText(entry.replyTo)}`);
      quote.addEventListener("click", () => nodes.get(entry.replyTo)?.scrollIntoView({ behavior: "smooth", block: "center" }));
      bubble.append(quote);
    }
    if (entry.text) {
      const body = el("div", "body");
      renderText(entry.text, body);
      bubble.append(body);
    }
    if (entry.files && entry.files.length) {
      const list = el("ul", "files");
      for (const file of entry.files) {
        const item = el("li");
        const link = el(file.url ? "a" : "div", "file");
        if (file.url) {
          link.href = file.url;
          link.download = file.name;
        }
        link.append($("file-icon").content.cloneNode(true), el("span", "name", file.name));
        if (typeof file.size === "number") link.append(el("span", "size", size(file.size)));
        item.append(link);
        if (file.url && /\.(png|jpe?g|gif|webp)$/i.test(file.name)) {
          const img = el("img", "thumb");
          img.src = file.url;
          img.alt = file.name;
          img.loading = "lazy";
          item.append(img);
        }
        list.append(item);
      }
      bubble.append(list);
    }
    node.append(meta, bubble);
    return node;
  }

  function drawCard(entry) {
    const answered = entry.status !== "pending";
    const node = el("article", `card${answered ? " answered" : ""}`);
    node.dataset.requestId = entry.request_id;
    const head = el("div", "card-head");
    head.append($("lock-icon").content.cloneNode(true));
    const title = el("span", "title", "Claude wants to use ");
    title.append(el("code", "", entry.tool_name));
    head.append(title, timeElement(entry.ts));
    node.append(head);
    if (entry.description) node.append(el("p", "desc", entry.description));
    if (entry.input_preview) node.append(el("pre", "preview", pretty(entry.input_preview)));
    if (answered) {
      const allowed = entry.status === "allow";
      const outcome = el("div", `outcome ${allowed ? "allow" : "deny"}`, allowed ? "✓ Allowed" : "✗ Denied");
      const how = entry.answered_by === "typed" ? "by a typed answer" : "in the page";
      outcome.append(el("span", "muted", ` · ${how}${entry.answered_ts ? ` at ${clock(entry.answered_ts)}` : ""}`));
      node.append(outcome);
    } else {
      const actions = el("div", "actions");
      const allow = el("button", "allow", "Allow");
      const deny = el("button", "deny", "Deny");
      allow.type = deny.type = "button";
      allow.addEventListener("click", () => answer(entry.request_id, "allow", actions));
      deny.addEventListener("click", () => answer(entry.request_id, "deny", actions));
      const or = el("span", "or", "or type ");
      or.append(el("code", "", `yes ${entry.request_id}`));
      actions.append(allow, deny, or);
      node.append(actions);
    }
    return node;
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  function upsert(entry) {
    const stick = nearBottom() || entry.from === "user";
    entries.set(entry.id, entry);
    const node = entry.type === "permission" ? drawCard(entry) : drawMessage(entry);
    node.dataset.id = entry.id;
    const old = nodes.get(entry.id);
    if (old) old.replaceWith(node);
    else log.append(node);
    nodes.set(entry.id, node);
    log.classList.add("has-entries");
    if (!old && entry.from === "assistant" && document.hidden) {
      unseen += 1;
      document.title = `(${unseen}) fakechat`;
    }
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  }

  function fail(id, message) {
    const entry = entries.get(id);
    unsent.delete(id);
    if (entry) upsert({ ...entry, error: message });
    else notice(message);
  }

  function divider(text) {
    log.append(el("div", "divider", text));
  }

  let noticeTimer = null;
  function notice(text) {
    const box = $("notice");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  // ---------------------------------------------------------------- connection

  function setStatus(state, text) {
    const box = $("status");
    box.dataset.state = state;
    $("status-text").textContent = text;
  }

  function connect() {
    reconnectTimer = null;
    setStatus("connecting", retries ? "reconnecting…" : "connecting…");
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    ws = socket;
    // Asking for the history also asks for everything: what other tabs send, delivery receipts.
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "hello" })));
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      receive(frame);
    });
    socket.addEventListener("close", (event) => {
      if (ws !== socket) return;
      ws = null;
      if (event.code === 1009) notice("That message was too large for the server.");
      const delay = Math.min(5000, 250 * 2 ** retries);
      retries += 1;
      setStatus("offline", `offline · retrying in ${Math.ceil(delay / 1000)} s`);
      reconnectTimer = setTimeout(connect, delay);
    });
  }

  function receive(frame) {
    if (frame.type === "hello") {
      retries = 0;
      setStatus("online", "connected");
      if (frame.limits) limits = frame.limits;
      if (session !== null && frame.session !== session) {
        // The server restarted: what is on screen stays, but belongs to the old session.
        divider("the channel restarted · a new session begins here");
        for (const id of [...nodes.keys()]) {
          if (unsent.has(id)) log.append(nodes.get(id));
          else {
            nodes.delete(id);
            entries.delete(id);
          }
        }
      }
      session = frame.session;
      history(frame);
      return;
    }
    if (frame.type === "history") {
      history(frame);
      return;
    }
    if (frame.type === "error") {
      if (frame.id) fail(frame.id, frame.message);
      else notice(frame.message);
      return;
    }
    if (frame.type === "msg" || frame.type === "permission") {
      if (frame.from === "user") unsent.delete(frame.id);
      upsert(frame);
    }
  }

  // The history comes in pieces (hello, then "history" frames) until one says there is no more;
  // only then is it known which of our messages the server never got, and they are sent again.
  function history(frame) {
    for (const entry of frame.history) {
      unsent.delete(entry.id);
      upsert(entry);
    }
    if (!frame.more) for (const text of unsent.values()) ws.send(text);
  }

  function answer(requestId, behavior, actions) {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      notice("Not connected; answer again once the page has reconnected.");
      return;
    }
    for (const button of actions.querySelectorAll("button")) button.disabled = true;
    ws.send(JSON.stringify({ type: "permission", request_id: requestId, behavior }));
  }

  // ---------------------------------------------------------------- sending

  function setAttachment(file) {
    attachment = file;
    $("chip").hidden = !file;
    $("chip-name").textContent = file ? file.name : "";
    $("chip-size").textContent = file ? size(file.size) : "";
    if (!file) fileInput.value = "";
    updateSendButton();
  }

  async function upload(id, text, file) {
    const body = new FormData();
    body.append("id", id);
    body.append("text", text);
    body.append("file", file, file.name);
    try {
      const response = await fetch("/upload", { method: "POST", body });
      if (!response.ok) fail(id, (await response.text()).trim() || `upload failed (${response.status})`);
    } catch {
      fail(id, "upload failed: the server is not reachable");
    }
  }

  function send() {
    const text = textBox.value.trim();
    const file = attachment;
    if (!text && !file) return;
    if (file && file.size > limits.max_upload) {
      notice(`${file.name} is ${size(file.size)}; the limit is ${size(limits.max_upload)}.`);
      return;
    }
    const id = newId();
    const frame = JSON.stringify({ id, text });
    if (!file && encoder.encode(frame).length > limits.max_message) {
      notice(`That message is too long (${size(encoder.encode(frame).length)}, limit ${size(limits.max_message)}).`);
      return;
    }
    const entry = { type: "msg", id, from: "user", text, ts: Date.now(), status: "sending" };
    if (file) entry.files = [{ name: file.name, size: file.size }];
    upsert(entry);
    textBox.value = "";
    setAttachment(null);
    resize();
    if (file) {
      upload(id, text, file);
      return;
    }
    unsent.set(id, frame);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(frame);
  }

  function updateSendButton() {
    sendButton.disabled = !textBox.value.trim() && !attachment;
  }

  function resize() {
    textBox.style.height = "auto";
    textBox.style.height = `${textBox.scrollHeight + 2}px`;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
    textBox.focus();
  });
  textBox.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  textBox.addEventListener("input", () => {
    resize();
    updateSendButton();
  });
  fileInput.addEventListener("change", () => setAttachment(fileInput.files[0] || null));
  $("chip-clear").addEventListener("click", () => setAttachment(null));
  textBox.addEventListener("paste", (event) => {
    const file = event.clipboardData && event.clipboardData.files[0];
    if (file) {
      event.preventDefault();
      setAttachment(file);
    }
  });
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) document.body.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) setAttachment(file);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      unseen = 0;
      document.title = "fakechat";
    }
  });

  updateSendButton();
  connect();
  textBox.focus();
})();
