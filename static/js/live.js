// Live console updates over /ws/console/ (callseal/console/consumers.py). Pages mark what
// they follow: [data-live-call] (one call's transcript) and [data-live-calls] (the list of
// live calls on the dashboard). Reconnects with back-off; pages stay correct on reload.
(function () {
  "use strict";
  const callBox = document.querySelector("[data-live-call]");
  const listBox = document.querySelector("[data-live-calls]");
  if (!callBox && !listBox) return;
  if (callBox && callBox.dataset.ws !== "on" && !listBox) return;
  const topics = [];
  if (listBox) topics.push("calls");
  if (callBox && callBox.dataset.ws === "on") topics.push("call:" + callBox.dataset.liveCall);
  const state = document.getElementById("live-state");
  let delay = 500;

  function say(text) { if (state) state.textContent = text; }

  function addTurn(event) {
    const list = document.getElementById("transcript");
    const placeholder = list.querySelector("[data-placeholder]");
    if (placeholder) placeholder.remove();
    if (event.version && list.querySelector('[data-version="' + event.version + '"]')) return;
    const li = document.createElement("li");
    li.className = "turn " + event.speaker;
    li.dataset.version = event.version || "";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = event.speaker === "caller" ? "Caller" : "Agent";
    li.append(who, " " + event.text);
    list.append(li);
  }

  function callRow(event) {
    const body = listBox.querySelector("tbody");
    let row = body.querySelector('[data-call="' + event.call_id + '"]');
    const live = event.status === "ringing" || event.status === "in_progress";
    if (!live) { if (row) row.remove(); }
    else {
      if (!row) {
        row = document.createElement("tr");
        row.dataset.call = event.call_id;
        const started = document.createElement("td");
        const link = document.createElement("a");
        link.href = "/calls/" + event.call_id + "/live/";
        link.textContent = event.started_at.replace("T", " ").slice(0, 19);
        started.append(link);
        row.append(started, document.createElement("td"));
        body.prepend(row);
      }
      row.children[1].textContent = event.status === "ringing" ? "Ringing" : "In progress";
    }
    const count = body.querySelectorAll("tr").length;
    document.getElementById("live-count").textContent = count;
    const empty = listBox.querySelector("[data-empty]");
    if (empty) empty.hidden = count > 0;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/console/");
    ws.onopen = function () {
      delay = 500;
      topics.forEach(function (t) { ws.send(JSON.stringify({ subscribe: t })); });
    };
    ws.onmessage = function (message) {
      const data = JSON.parse(message.data);
      if (data.subscribed && data.subscribed.startsWith("call:")) say("Live: new turns appear as they happen.");
      if (data.error) say("Live updates unavailable: " + data.error);
      if (!data.event) return;
      const event = data.event;
      if (data.topic === "calls" && listBox) callRow(event);
      if (data.topic.startsWith("call:")) {
        if (event.kind === "turn") addTurn(event);
        if (event.kind === "ended") {
          document.getElementById("call-status").textContent = "Ended (" + event.status + ", " + event.outcome + ")";
          say("This call has ended.");
          // An ended call cannot be escalated or ended again: the controls go with it.
          const controls = document.getElementById("supervisor-controls");
          if (controls) controls.remove();
          const ended = document.getElementById("supervisor-ended");
          if (ended) ended.hidden = false;
        }
        if (event.kind === "escalated") say("Escalated: " + event.reason);
      }
    };
    ws.onclose = function () {
      say("Live updates interrupted; reconnecting…");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
