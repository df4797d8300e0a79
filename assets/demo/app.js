// Demo chat page for the Rust Socket.IO server: rooms, presence, typing indicators,
// delivery receipts built from acks, connection state recovery and binary images.
// Plain browser JavaScript; needs the official client bundle (global `io`) loaded first.
"use strict";

(() => {
  const NAME_MAX = 32; // nickname and room name
  const TEXT_MAX = 2000;
  const IMAGE_MAX_BYTES = 1_000_000;
  // Only raster formats: a Blob URL of another type (SVG, HTML) opened in a tab would run in our origin.
  const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
  const TYPING_IDLE_MS = 2000; // stop "typing" after this long without input
  const TYPING_EXPIRE_MS = 6000; // forget someone's "typing" if their `false` never arrives
  const HANDLED_EVENTS = new Set(["presence", "chat", "delivered", "typing"]);
  const TICKS = { pending: "…", sent: "✓", delivered: "✓✓", failed: "!" };

  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const ui = {
    status: byTestId("status"),
    statusText: document.querySelector(".status-text"),
    joinForm: document.getElementById("join-form"),
    nickname: byTestId("nickname"),
    room: byTestId("room"),
    join: byTestId("join"),
    presence: byTestId("presence"),
    memberCount: document.getElementById("member-count"),
    roomTitle: document.getElementById("room-title"),
    typing: byTestId("typing"),
    messages: byTestId("messages"),
    composer: document.getElementById("composer"),
    imageInput: byTestId("image-input"),
    messageInput: byTestId("message-input"),
    send: byTestId("send"),
  };

  if (typeof io !== "function") {
    ui.statusText.textContent = "The Socket.IO client failed to load";
    return;
  }

  // What we joined; joined again by ourselves after a reconnection the server could not recover.
  const session = { nickname: null, room: null, selfId: null, ready: false, members: [] };
  // Connection status as shown in the header.
  const conn = { state: "disconnected", recovered: false, reconnected: false, attempt: 0, transport: "", note: "Connecting…" };
  const messages = new Map(); // message id -> rendered entry (also de-duplicates replays)
  const outbox = new Map(); // own message id -> payload, until the server acks it
  const typers = new Map(); // socket id -> { nickname, timer }
  const blobUrls = [];
  const typingOut = { sent: false, timer: null };
  let everConnected = false;

  const socket = io("/chat");
  window.chat = { socket };

  // ---------------------------------------------------------------- small helpers

  /** Creates an element; attributes are set verbatim, children are nodes or text (never HTML). */
  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    }
    node.append(...children.filter((child) => child !== undefined && child !== null));
    return node;
  }

  function randomNickname() {
    const adjectives = ["Brave", "Calm", "Clever", "Cosmic", "Curious", "Gentle", "Happy", "Jolly",
      "Lucky", "Mellow", "Nimble", "Quiet", "Sunny", "Swift", "Witty", "Zesty"];
    const animals = ["Otter", "Panda", "Falcon", "Koala", "Lynx", "Fox", "Heron", "Badger",
      "Dolphin", "Marmot", "Owl", "Puffin", "Tiger", "Wombat", "Yak", "Gecko"];
    const pick = (list) => list[Math.floor(Math.random() * list.length)];
    return `${pick(adjectives)} ${pick(animals)}`;
  }

  /** A unique message id (crypto.randomUUID needs a secure context; getRandomValues does not). */
  function newMessageId() {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return Date.now().toString(36) + "-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function formatTime(ms) {
    const date = new Date(typeof ms === "number" ? ms : Date.now());
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  /** A stable colour per nickname. */
  function hueOf(name) {
    let hash = 0;
    for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
    return hash % 360;
  }

  function blobUrlFor(bytes, mime) {
    const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
    blobUrls.push(url);
    return url;
  }

  function scrollToBottom() {
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  /** Appends to the message list, following the conversation if the user was at the bottom. */
  function appendLine(node, forceScroll = false) {
    const list = ui.messages;
    const follow = forceScroll || list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    list.append(node);
    if (follow) scrollToBottom();
    return follow;
  }

  function system(text, kind = "info") {
    appendLine(h("li", { class: `system ${kind}`, "data-testid": "system" }, text));
  }

  // ---------------------------------------------------------------- connection status

  function setStatus(patch) {
    Object.assign(conn, patch);
    ui.status.dataset.state = conn.state;
    ui.status.dataset.recovered = String(conn.recovered);
    ui.status.dataset.transport = conn.transport;
    ui.statusText.textContent = statusLabel();
  }

  function statusLabel() {
    if (conn.state === "connected") {
      if (!conn.reconnected) return `Connected (${conn.transport})`;
      return conn.recovered ? "Reconnected — missed messages replayed" : "Reconnected (new session)";
    }
    if (conn.note) return conn.note;
    if (conn.state === "reconnecting") return conn.attempt ? `Reconnecting… attempt ${conn.attempt}` : "Reconnecting…";
    return "Disconnected";
  }

  /** Each (re)connection opens a new Engine.IO socket: follow its transport and upgrades. */
  function watchTransport() {
    const engine = socket.io.engine;
    setStatus({ transport: engine.transport.name });
    engine.on("upgrade", (transport) => setStatus({ transport: transport.name }));
  }

  function onConnect() {
    const reconnected = everConnected;
    everConnected = true;
    session.selfId = socket.id;
    setStatus({
      state: "connected",
      reconnected,
      recovered: reconnected && socket.recovered === true,
      attempt: 0,
      note: null,
      transport: socket.io.engine.transport.name,
    });
    ui.presence.classList.remove("stale");
    if (!session.room) return;
    if (socket.recovered) {
      // The server kept our room and replays what we missed: nothing to redo but our unacked messages.
      session.ready = true;
      flushOutbox();
    } else {
      system(`New session — joining #${session.room} again…`);
      join(session.nickname, session.room, true);
    }
  }

  function onDisconnect(reason) {
    session.ready = false;
    typingOut.sent = false;
    clearTimeout(typingOut.timer);
    clearTypers();
    ui.presence.classList.add("stale");
    // `active` stays true when the client will reconnect by itself (anything but an explicit disconnect).
    if (socket.active) {
      setStatus({ state: "reconnecting", recovered: false, attempt: 0, note: `Connection lost (${reason}) — reconnecting…` });
    } else {
      setStatus({ state: "disconnected", recovered: false, note: `Disconnected (${reason})` });
    }
  }

  function onConnectError(error) {
    // While the Manager retries, its "attempt n" text is the more useful one.
    if (socket.active) setStatus({ state: "reconnecting", note: conn.attempt ? null : `Cannot connect (${error.message}) — retrying…` });
    else setStatus({ state: "disconnected", note: `Connection refused: ${error.message}` });
  }

  // ---------------------------------------------------------------- rooms and presence

  function onJoinSubmit(event) {
    event.preventDefault();
    const nickname = ui.nickname.value.trim();
    const room = ui.room.value.trim();
    if (!nickname || nickname.length > NAME_MAX || !room || room.length > NAME_MAX) {
      system(`Nickname and room must be 1–${NAME_MAX} characters.`, "error");
      return;
    }
    join(nickname, room, false);
  }

  function join(nickname, room, rejoin) {
    ui.join.disabled = true;
    socket.emit("join", { nickname, room }, (answer) => {
      ui.join.disabled = false;
      onJoined(answer, nickname, room, rejoin);
    });
  }

  function onJoined(answer, nickname, room, rejoin) {
    if (!answer || !answer.ok) {
      system(`Could not join #${room}: ${answer?.error ?? "no answer"}`, "error");
      return;
    }
    const joinedRoom = answer.room ?? room;
    if (joinedRoom !== session.room) clearConversation();
    Object.assign(session, { nickname, room: joinedRoom, selfId: answer.id ?? socket.id, ready: true, members: [] });
    ui.roomTitle.textContent = `#${joinedRoom}`;
    ui.join.textContent = "Switch room";
    setComposerEnabled(true);
    showMembers(answer.members ?? []);
    system(rejoin ? `Joined #${joinedRoom} again as ${nickname}` : `You joined #${joinedRoom} as ${nickname}`);
    flushOutbox();
    if (!rejoin) ui.messageInput.focus();
  }

  function onPresence(update) {
    if (!update || update.room !== session.room || !Array.isArray(update.members)) return;
    announceChanges(session.members, update.members);
    showMembers(update.members);
  }

  /** "bob joined" / "bob left" lines, comparing member lists (our own comings and goings aside). */
  function announceChanges(before, after) {
    const ids = (list) => new Set(list.map((member) => member.id));
    const beforeIds = ids(before);
    const afterIds = ids(after);
    for (const m of after) if (!beforeIds.has(m.id) && m.id !== session.selfId) system(`${m.nickname} joined`, "presence");
    for (const m of before) if (!afterIds.has(m.id) && m.id !== session.selfId) system(`${m.nickname} left`, "presence");
  }

  function showMembers(members) {
    session.members = members;
    ui.memberCount.textContent = String(members.length);
    const items = members.map((member) => {
      const me = member.id === session.selfId;
      const nickname = String(member.nickname ?? "?");
      // Avatar initial and "(you)" come from CSS, so the text stays just the nickname.
      return h("li", {
        class: me ? "member me" : "member",
        "data-testid": "member",
        "data-me": String(me),
        "data-initial": nickname.slice(0, 1).toUpperCase(),
        style: `--hue: ${hueOf(nickname)}`,
      }, nickname);
    });
    ui.presence.replaceChildren(...items);
    for (const id of typers.keys()) if (!members.some((m) => m.id === id)) dropTyper(id);
  }

  function clearConversation() {
    messages.clear();
    outbox.clear();
    clearTypers();
    for (const url of blobUrls.splice(0)) URL.revokeObjectURL(url);
    ui.messages.replaceChildren();
  }

  // ---------------------------------------------------------------- messages

  function setComposerEnabled(enabled) {
    for (const control of [ui.messageInput, ui.send, ui.imageInput]) control.disabled = !enabled;
    ui.messageInput.placeholder = enabled ? "Write a message — Enter sends" : "Join a room to start chatting";
  }

  function onComposerSubmit(event) {
    event.preventDefault();
    const text = ui.messageInput.value.trim();
    if (!text || !session.room) return;
    sendMessage(text.slice(0, TEXT_MAX), null);
    ui.messageInput.value = "";
  }

  async function onImagePicked() {
    const file = ui.imageInput.files[0];
    if (!file || !session.room) return;
    ui.imageInput.value = ""; // so that picking the same file again fires `change`
    if (!IMAGE_TYPES.has(file.type)) return system("Only PNG, JPEG, GIF and WebP images can be sent.", "error");
    if (file.size > IMAGE_MAX_BYTES) return system("Images are limited to 1 MB.", "error");
    const bytes = await file.arrayBuffer();
    sendMessage(ui.messageInput.value.trim().slice(0, TEXT_MAX), { bytes, mime: file.type });
    ui.messageInput.value = "";
  }

  /** Shows our message at once (tick: pending) and sends it now, or as soon as we are in the room again. */
  function sendMessage(text, image) {
    const id = newMessageId();
    const payload = image ? { id, text, image: image.bytes, mime: image.mime } : { id, text };
    renderMessage({ ...payload, from: { id: socket.id, nickname: session.nickname }, at: Date.now() }, true);
    outbox.set(id, payload);
    if (session.ready) emitChat(payload);
    stopTyping();
  }

  function emitChat(payload) {
    socket.emit("chat", payload, (answer) => onChatAck(payload.id, answer));
  }

  /**
   * Sends every message the server has not acked yet. Runs once we are in the room on a live
   * connection: acks of a lost connection never arrive, so those messages go again (receivers
   * ignore a message id they already show).
   */
  function flushOutbox() {
    for (const payload of outbox.values()) emitChat(payload);
  }

  function onChatAck(id, answer) {
    const entry = messages.get(id);
    if (!entry || !outbox.delete(id)) return; // unknown or already acked
    if (answer && answer.ok) {
      entry.acked = true;
      if (typeof answer.at === "number") entry.time.textContent = formatTime(answer.at);
    } else {
      entry.failed = answer?.error ?? "rejected";
      system(`Message not sent: ${entry.failed}`, "error");
    }
    renderTicks(entry);
  }

  function onChat(message) {
    if (!message || typeof message.id !== "string" || !message.from) return;
    if (messages.has(message.id)) return; // already shown (a replay, or a resend whose ack got lost)
    dropTyper(message.from.id);
    renderMessage(message, false);
    socket.emit("receipt", { id: message.id, to: message.from.id });
  }

  function onDelivered(receipt) {
    const entry = receipt && messages.get(receipt.id);
    if (!entry || !entry.mine || !receipt.by) return;
    entry.readers.set(receipt.by.id, receipt.by.nickname);
    renderTicks(entry);
  }

  function renderMessage(message, mine) {
    const nickname = String(message.from.nickname ?? "?");
    const time = h("time", { class: "time" }, formatTime(message.at));
    const bubble = h("div", { class: "bubble" });
    if (message.image !== undefined && message.image !== null) bubble.append(renderImage(message, nickname));
    if (message.text) bubble.append(h("p", { class: "text" }, String(message.text)));
    const ticks = mine ? h("span", { class: "ticks", "data-testid": "ticks" }) : null;
    const item = h("li", {
      class: mine ? "message mine" : "message",
      "data-testid": "message",
      "data-msg-id": message.id,
      "data-from": nickname,
      "data-mine": String(mine),
      style: `--hue: ${hueOf(nickname)}`,
    }, h("div", { class: "meta" }, h("span", { class: "author" }, mine ? "You" : nickname), time), bubble, ticks);
    const entry = { item, time, ticks, mine, acked: false, failed: null, readers: new Map() };
    messages.set(message.id, entry);
    if (mine) renderTicks(entry);
    // An image gets its height once loaded: keep following the conversation then too.
    if (appendLine(item, mine)) item.querySelector("img")?.addEventListener("load", scrollToBottom, { once: true });
    return entry;
  }

  /** Binary arrives as an ArrayBuffer; shown through a Blob URL (only for known raster types). */
  function renderImage(message, nickname) {
    const binary = message.image instanceof ArrayBuffer || ArrayBuffer.isView(message.image) || message.image instanceof Blob;
    if (!binary || !IMAGE_TYPES.has(message.mime)) return h("p", { class: "text muted" }, "[unsupported attachment]");
    const img = h("img", { alt: `Image from ${nickname}`, src: blobUrlFor(message.image, message.mime) });
    return h("figure", { class: "image" }, img);
  }

  function renderTicks(entry) {
    const count = entry.readers.size;
    const state = count > 0 ? "delivered" : entry.failed ? "failed" : entry.acked ? "sent" : "pending";
    entry.ticks.dataset.state = state;
    entry.ticks.dataset.count = String(count);
    entry.ticks.textContent = TICKS[state];
    entry.ticks.title = {
      pending: "Waiting for the server",
      sent: "Accepted by the server",
      delivered: `Seen by ${[...entry.readers.values()].join(", ")}`,
      failed: `Not sent: ${entry.failed}`,
    }[state];
  }

  // ---------------------------------------------------------------- typing

  function onComposerInput() {
    if (!session.ready) return;
    if (ui.messageInput.value === "") return stopTyping();
    if (!typingOut.sent) {
      typingOut.sent = true;
      socket.emit("typing", true);
    }
    clearTimeout(typingOut.timer);
    typingOut.timer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typingOut.timer);
    if (!typingOut.sent) return;
    typingOut.sent = false;
    if (socket.connected) socket.emit("typing", false);
  }

  function onTyping(update) {
    if (!update || update.id === session.selfId) return;
    if (!update.typing) return dropTyper(update.id);
    clearTimeout(typers.get(update.id)?.timer);
    const timer = setTimeout(() => dropTyper(update.id), TYPING_EXPIRE_MS);
    typers.set(update.id, { nickname: String(update.nickname ?? "someone"), timer });
    renderTyping();
  }

  function dropTyper(id) {
    const typer = typers.get(id);
    if (!typer) return;
    clearTimeout(typer.timer);
    typers.delete(id);
    renderTyping();
  }

  function clearTypers() {
    for (const id of [...typers.keys()]) dropTyper(id);
  }

  function renderTyping() {
    const names = [...typers.values()].map((typer) => typer.nickname);
    if (names.length === 0) ui.typing.textContent = "";
    else if (names.length === 1) ui.typing.textContent = `${names[0]} is typing…`;
    else if (names.length === 2) ui.typing.textContent = `${names[0]} and ${names[1]} are typing…`;
    else ui.typing.textContent = `${names.length} people are typing…`;
  }

  // ---------------------------------------------------------------- anything else

  /**
   * Events the page does not know, such as `announcement` published through the HTTP API.
   * With connection state recovery the server appends the event's offset as a last argument,
   * so only the first argument is data.
   */
  function onOtherEvent(event, ...args) {
    if (HANDLED_EVENTS.has(event)) return;
    const data = args[0];
    if (event === "announcement" && data && typeof data.text === "string") {
      system(data.text, "announcement"); // the style sheet adds an "Announcement" badge
      return;
    }
    let json;
    try {
      json = data === undefined ? "(no data)" : JSON.stringify(data);
    } catch {
      json = String(data);
    }
    system(`${event}: ${json.length > 500 ? json.slice(0, 500) + "…" : json}`);
  }

  // ---------------------------------------------------------------- wiring

  socket.on("connect", onConnect);
  socket.on("disconnect", onDisconnect);
  socket.on("connect_error", onConnectError);
  socket.io.on("open", watchTransport);
  socket.io.on("reconnect_attempt", (attempt) => setStatus({ state: "reconnecting", attempt, note: null }));
  socket.io.on("reconnect", () => setStatus({ note: "Reconnected — restoring the session…" }));
  socket.io.on("reconnect_failed", () => setStatus({ state: "disconnected", note: "Gave up reconnecting — reload the page" }));

  socket.on("presence", onPresence);
  socket.on("chat", onChat);
  socket.on("delivered", onDelivered);
  socket.on("typing", onTyping);
  socket.onAny(onOtherEvent);

  ui.joinForm.addEventListener("submit", onJoinSubmit);
  ui.composer.addEventListener("submit", onComposerSubmit);
  ui.messageInput.addEventListener("input", onComposerInput);
  ui.imageInput.addEventListener("change", onImagePicked);

  ui.nickname.value = randomNickname();
  setStatus({});
})();
