// Minimal chat client for the frontdesk API. Everything the server returns is inserted with
// textContent, never innerHTML, so no reply can inject markup.
(() => {
  "use strict";
  const root = document.querySelector(".chat");
  const key = root.dataset.widgetKey;
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const button = form.querySelector("button");
  let conversationId = null;

  async function api(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
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

  function addReply(reply) {
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
        conversationId = (await api("/v1/conversations", { channel: "web" })).id;
      }
      addReply(await api(`/v1/conversations/${conversationId}/messages`, { text }));
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
