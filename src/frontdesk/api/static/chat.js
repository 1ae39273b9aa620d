// Minimal chat client for the frontdesk API. Everything the server returns is inserted with
// textContent, never innerHTML, so no reply can inject markup.
(() => {
  "use strict";
  const root = document.querySelector(".chat");
  let key = root.dataset.widgetKey;
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const button = form.querySelector("button");
  let conversationId = null;
  // The conversation's own secret (returned once when it is started): the widget key is
  // public, so the server lets this page read and write only the conversation it holds.
  let conversationToken = null;

  // The page's widget key may be revoked while the page is open: the server then serves a
  // fresh one with the page, so a refused call (401) reads it from there and is sent again.
  // The conversation's token does not depend on the widget key, so the conversation goes on.
  async function renewKey() {
    const page = await fetch("/", { headers: { Accept: "text/html" } }).catch(() => null);
    if (!page || !page.ok) return false;
    const html = new DOMParser().parseFromString(await page.text(), "text/html");
    const fresh = html.querySelector(".chat") && html.querySelector(".chat").dataset.widgetKey;
    if (!fresh || fresh === key) return false;
    key = fresh;
    root.dataset.widgetKey = fresh;
    return true;
  }

  // fetch with the page's current key; once more with a fresh key when the key was refused.
  async function authorized(path, init) {
    const send = () =>
      fetch(path, { ...init, headers: { ...init.headers, Authorization: `Bearer ${key}` } });
    const response = await send();
    if (response.status === 401 && (await renewKey())) return send();
    return response;
  }

  async function api(path, body) {
    const response = await authorized(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = (data.error && data.error.message) || `HTTP ${response.status}`;
      throw new Error(message);
    }
    return data;
  }

  function add(role, text) {
    const item = document.createElement("li");
    item.className = `msg ${role}`;
    const p = document.createElement("p");
    p.textContent = text;
    item.appendChild(p);
    log.appendChild(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

  // Reads a server-sent event stream from a fetch response: calls on(event, data) per event.
  async function readEvents(response, on) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length) on(name, JSON.parse(data.join("\n")));
      }
    }
  }

  // Posts a message and shows the answer as it streams; the final `reply` event replaces the
  // streamed text with the screened answer and adds sources.
  async function sendStreaming(text) {
    const response = await authorized(`/v1/conversations/${conversationId}/messages?stream=true`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "text/event-stream",
        "X-Conversation-Token": conversationToken,
      },
      body: JSON.stringify({ text }),
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new Error((data.error && data.error.message) || `HTTP ${response.status}`);
    }
    let item = null;
    let failure = null;
    await readEvents(response, (name, data) => {
      if (name === "delta") {
        if (!item) {
          item = add("assistant", "");
          item.classList.add("streaming");
        }
        item.querySelector("p").textContent += data.text;
        item.scrollIntoView({ block: "end" });
      } else if (name === "reset" && item) {
        item.querySelector("p").textContent = "";
      } else if (name === "reply") {
        if (item) item.remove();
        addReply(data);
      } else if (name === "error") {
        failure = (data.error && data.error.message) || "the reply failed";
      }
    });
    if (failure) {
      if (item) item.remove();
      throw new Error(failure);
    }
  }

  // After a hand-off, people answer here too: poll for messages that arrive outside this
  // page's own request/reply pairs (an agent's reply, an approval's outcome).
  let lastSeq = 0;
  let polling = null;
  async function poll() {
    if (!conversationId) return;
    const response = await authorized(`/v1/conversations/${conversationId}/updates?after=${lastSeq}`, {
      headers: { "X-Conversation-Token": conversationToken },
    }).catch(() => null);
    if (!response || !response.ok) return;
    const data = await response.json();
    for (const message of data.messages) {
      lastSeq = Math.max(lastSeq, message.seq);
      if (!message.from_turn) add(message.role === "agent" ? "agent" : message.role, message.text);
    }
    root.dataset.conversationStatus = data.status;
  }
  function startPolling() {
    if (!polling) polling = setInterval(poll, 2000);
  }

  function addReply(reply) {
    startPolling();
    if (!reply.answer) return; // an agent owns the conversation: the assistant stays silent
    const item = add("assistant", reply.answer);
    item.dataset.intent = reply.intent || "";
    if (reply.citations && reply.citations.length) {
      const list = document.createElement("ol");
      list.className = "sources";
      for (const citation of reply.citations) {
        const li = document.createElement("li");
        li.value = citation.n;
        li.textContent = citation.title;
        li.title = citation.source;
        list.appendChild(li);
      }
      item.appendChild(list);
    }
    const meta = document.createElement("div");
    meta.className = "meta";
    const route = reply.route ? `${reply.route.action}${reply.route.team ? " → " + reply.route.team : ""}` : "";
    const confidence = reply.confidence == null ? "" : ` (${Math.round(reply.confidence * 100)}%)`;
    meta.textContent = [reply.intent ? `intent: ${reply.intent}${confidence}` : "", route].filter(Boolean).join(" · ");
    item.appendChild(meta);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    add("customer", text);
    input.value = "";
    button.disabled = true;
    status.textContent = "…";
    try {
      if (!conversationId) {
        const started = await api("/v1/conversations", { channel: "web" });
        conversationId = started.id;
        conversationToken = started.conversation_token;
      }
      await sendStreaming(text);
      status.textContent = "";
    } catch (error) {
      add("error", `Sorry, that did not go through: ${error.message}`);
      status.textContent = "";
    } finally {
      button.disabled = false;
      input.focus();
    }
  });
})();
