// The agent console's live parts: SLA countdowns and server-sent events that refresh the
// regions of the page that changed. Forms work without this script; it only keeps pages fresh.
"use strict";

(function () {
  const REGIONS = ["#queues", "#summary", "#trace", "#conversation-status"];

  function formatLeft(seconds) {
    const abs = Math.abs(seconds);
    const h = Math.floor(abs / 3600);
    const m = Math.floor((abs % 3600) / 60);
    const text = h > 0 ? h + "h " + m + "m" : m > 0 ? m + "m" : Math.floor(abs) + "s";
    return seconds < 0 ? "overdue " + text : text + " left";
  }

  function tickSla() {
    const now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (el) {
      const due = Date.parse(el.dataset.due);
      if (Number.isNaN(due)) return;
      const left = (due - now) / 1000;
      el.textContent = formatLeft(left);
      el.classList.toggle("breached", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 1800);
      el.classList.toggle("ok", left >= 1800);
    });
  }

  function conversationId() {
    const el = document.querySelector("[data-conversation]");
    return el ? el.dataset.conversation : null;
  }

  function appendMessage(event) {
    const list = document.getElementById("messages");
    if (!list || event.conversation_id !== conversationId()) return;
    if (list.querySelector('[data-seq="' + event.seq + '"]')) return;
    const item = document.createElement("li");
    item.className = "msg " + event.role;
    item.dataset.seq = String(event.seq);
    const role = document.createElement("span");
    role.className = "role";
    role.textContent = event.role;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = event.text; // customer text is shown, never run
    item.append(role, " ", text);
    list.appendChild(item);
  }

  let pending = null;
  function refreshSoon() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(refresh, 250);
  }

  async function refresh() {
    pending = null;
    let response;
    try {
      response = await fetch(location.href, { credentials: "same-origin" });
    } catch (error) {
      return;
    }
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    REGIONS.forEach(function (selector) {
      const current = document.querySelector(selector);
      const fresh = doc.querySelector(selector);
      if (!current || !fresh) return;
      // Leave a region alone while someone is typing in it.
      if (current.contains(document.activeElement) && document.activeElement !== document.body) {
        return;
      }
      const open = new Set(
        Array.from(current.querySelectorAll("details[open]")).map((d) => d.dataset.turn)
      );
      current.replaceWith(fresh);
      fresh.querySelectorAll("details[data-turn]").forEach(function (d) {
        if (open.has(d.dataset.turn)) d.open = true;
      });
    });
    const messages = doc.querySelectorAll("#messages li");
    messages.forEach(function (li) {
      appendMessage({
        conversation_id: conversationId(),
        seq: li.dataset.seq,
        role: li.classList[1],
        text: li.querySelector(".text").textContent,
      });
    });
    tickSla();
  }

  function connect() {
    if (!window.EventSource || !document.getElementById("live-status")) return;
    const status = document.getElementById("live-status");
    const source = new EventSource("/console/events");
    source.onopen = function () {
      status.classList.add("on");
      document.body.dataset.live = "on";
    };
    source.onerror = function () {
      status.classList.remove("on");
    };
    source.addEventListener("message", function (e) {
      const event = JSON.parse(e.data);
      appendMessage(event);
      if (event.conversation_id === conversationId() || document.getElementById("queues")) {
        refreshSoon();
      }
    });
    ["ticket.created", "ticket.updated", "ticket.closed"].forEach(function (name) {
      source.addEventListener(name, function (e) {
        const event = JSON.parse(e.data);
        const mine = event.ticket && event.ticket.conversation_id === conversationId();
        if (mine || document.getElementById("queues")) refreshSoon();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tickSla();
    setInterval(tickSla, 1000);
    connect();
  });
})();
