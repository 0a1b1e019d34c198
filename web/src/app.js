// The page the device serves: talk to it, watch it think, change its settings.
import { PipecatClient } from "@pipecat-ai/client-js";
import { WebSocketTransport } from "@pipecat-ai/websocket-transport";
import { BrowserMediaManager } from "./media.js";
import { renderSettings, renderActions } from "./settings.js";
import { Metrics } from "./metrics.js";

const $ = (id) => document.getElementById(id);
const media = new BrowserMediaManager();
const metrics = new Metrics($("chart"), $("turns"));
let client = null;
let userLine = null; // the conversation line being transcribed
let botLine = null;
let stoppedAt = null;

function setState(text, kind = text) {
  $("state").textContent = text;
  $("state").dataset.kind = kind;
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

function line(who, text = "") {
  const div = document.createElement("div");
  div.className = `line ${who}`;
  div.textContent = text;
  $("log").append(div);
  $("log").scrollTop = $("log").scrollHeight;
  return div;
}

function plainError(err) {
  const text = String(err?.data?.error ?? err?.message ?? err);
  if (/401|token/i.test(text)) return "The device refused the token. Check it under Connection.";
  if (/503|already serves/i.test(text)) return "The device is busy with other clients. Try again soon.";
  if (/403|origin/i.test(text)) return "This page's address is not allowed by the device ([rtvi] allowed_origins).";
  if (/closed|failed to connect|fetch/i.test(text)) return "Cannot reach the device. Is rtvi-edge running?";
  return text;
}

const callbacks = {
  onBotReady: async () => {
    setState("listening");
    showError("");
    const described = await client.sendClientRequest("describe-config", {});
    const current = await client.sendClientRequest("get-config", {});
    renderSettings($("settings"), described.config, current.config, applyConfig);
    const actions = await client.sendClientRequest("describe-actions", {});
    renderActions($("actions"), actions.actions, runAction);
  },
  onDisconnected: () => { setState("disconnected"); $("connect").textContent = "Connect"; },
  onUserStartedSpeaking: () => {
    media.flush();
    setState("listening");
    userLine = line("user interim", "…");
  },
  onUserStoppedSpeaking: () => { stoppedAt = performance.now(); setState("thinking"); },
  onUserTranscript: (t) => {
    if (!userLine) userLine = line("user interim");
    userLine.textContent = t.text;
    if (t.final) { userLine.classList.remove("interim"); userLine = null; botLine = null; }
  },
  onBotStartedSpeaking: () => setState("speaking"),
  onBotStoppedSpeaking: () => { setState("listening"); botLine = null; },
  onBotOutput: (o) => {
    if (o.spoken === true) return; // each segment comes once as it starts playing
    if (!botLine) botLine = line("bot");
    botLine.textContent = `${botLine.textContent} ${o.text}`.trim();
  },
  onMetrics: (m) => metrics.add(m),
  onError: (msg) => showError(plainError(msg)),
  onMessageError: (msg) => showError(plainError(msg)),
  onServerMessage: () => {},
};

async function connect() {
  if (client) {
    await client.disconnect();
    client = null;
    return;
  }
  showError("");
  setState("connecting");
  $("connect").textContent = "Disconnect";
  const token = $("token").value.trim();
  localStorage.setItem("rtvi-edge-token", token);
  client = new PipecatClient({ transport: new WebSocketTransport({ mediaManager: media }),
                               enableMic: true, enableCam: false, callbacks });
  media.onFirstAudio = () => { if (stoppedAt) metrics.clientLatency(performance.now() - stoppedAt); stoppedAt = null; };
  media.onLevel = (v) => { $("level").style.width = `${Math.min(100, v * 300)}%`; };
  try {
    await client.startBotAndConnect({ endpoint: `${location.origin}/start`,
                                      requestData: token ? { token } : {} });
  } catch (err) {
    showError(plainError(err));
    client = null;
    setState("disconnected");
    $("connect").textContent = "Connect";
  }
}

async function applyConfig(config) {
  try {
    const reply = await client.sendClientRequest("update-config", { config, interrupt: false });
    return { ok: true, config: reply.config };
  } catch (err) {
    return { ok: false, error: plainError(err) };
  }
}

async function runAction(service, action, args) {
  try {
    const reply = await client.sendClientRequest("action", { service, action, arguments: args });
    return { ok: true, result: reply.result };
  } catch (err) {
    return { ok: false, error: plainError(err) };
  }
}

$("connect").onclick = connect;
$("mic").onclick = () => {
  if (!client) return;
  const on = !client.isMicEnabled;
  client.enableMic(on);
  $("mic").textContent = on ? "Mute mic" : "Unmute mic";
  $("mic").classList.toggle("off", !on);
};
$("send").onsubmit = async (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!client || !text) return;
  $("text").value = "";
  line("user", text);
  botLine = null;
  await client.sendText(text, { audio_response: $("speak").checked });
};
$("token").value = localStorage.getItem("rtvi-edge-token") ?? "";
setState("disconnected");
window.rtviEdge = { metrics, get client() { return client; } }; // for tests and curious users
