// The page the device serves: talk to it, watch it think, change its settings.
// Built on the official @pipecat-ai/client-js and its SmallWebRTC transport (or the
// WebSocket one), with media managers of our own so that nothing is loaded from the
// internet.
import { LogLevel, PipecatClient, logger } from "@pipecat-ai/client-js";
import type { RTVIEventCallbacks, RTVIMessage } from "@pipecat-ai/client-js";
import "./app.css";
import { ConversationView } from "./conversation";
import { errorText, micError, plain, startError } from "./errors";
import { BrowserMediaManager } from "./media";
import { LatencyView } from "./metrics";
import { WebRtcMedia } from "./rtc-media";
import { type Request, SettingsForm, renderActions } from "./settings";
import { deviceTransport, rtcTransport } from "./transport";

type State = "disconnected" | "connecting" | "listening" | "thinking" | "speaking";
type Media = BrowserMediaManager | WebRtcMedia;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
logger.setLevel(params.has("debug") ? LogLevel.DEBUG : LogLevel.WARN); // DEBUG logs every message

const TOKEN_KEY = "rtvi-edge-token";
const TRANSPORT_KEY = "rtvi-edge-transport";
let media: Media = newMedia();
const talk = new ConversationView($("log"));
const latency = new LatencyView($("chart"), $("turns"));
let client: PipecatClient | null = null;
let attempt = 0; // connection attempts; Disconnect counts too, so a late failure stays quiet
let state: State = "disconnected";
let errorShown = false; // the first error of a connection is the telling one
let stoppedAt: number | undefined; // user-stopped-speaking, until the first bot audio plays
let textOnly = false; // a typed turn answered without voice ends at bot-llm-stopped
const handled = new WeakSet<object>(); // error-responses that a form already shows
const received: { at: number; type: string; data: unknown }[] = []; // ?debug: every message

const request: Request = async (t, d, timeoutMs = 10000) => {
  if (!client) throw new Error("Not connected.");
  try {
    return await client.sendClientRequest(t, d, timeoutMs);
  } catch (err) {
    if (err && typeof err === "object") handled.add(err);
    throw new Error(plain(errorText(err)));
  }
};
const settings = new SettingsForm($("settings"), $("settings-status"), request);

// -- what the page shows ----------------------------------------------------------
function setState(next: State): void {
  state = next;
  $("state").textContent = next;
  $("state").dataset.kind = next;
  const live = next !== "disconnected";
  $("connect").textContent = live ? "Disconnect" : "Connect";
  $<HTMLButtonElement>("mic").disabled = !live || !media.tracks().local.audio;
  $<HTMLButtonElement>("send-button").disabled = !live || next === "connecting";
}

function showError(text: string): void {
  $("error").textContent = text;
  $("error").hidden = !text;
  errorShown = Boolean(text);
}

function showNotice(text: string): void {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

let backendShown = false; // the notice shows a LAN server's failover

/** What the page says when a LAN server fails over or comes back (docs/lan-server.md). */
function backendNotice(data: unknown): string | undefined {
  const d = data as { type?: string; stage?: string; event?: string; reason?: string; fallback?: string };
  if (d?.type !== "backend") return undefined;
  const stage = { stt: "speech recognition", llm: "language model", tts: "voice" }[d.stage ?? ""] ?? d.stage;
  if (d.event === "recovered") return backendShown ? "" : undefined; // clears only its own
  const how = d.fallback ? `answering with ${d.fallback} on the device` : "no fallback";
  return `The ${stage} server ${d.event === "slow" ? "is slow" : "failed"} (${d.reason ?? ""}); ${how}.`;
}

function showMic(on: boolean): void {
  const button = $("mic");
  button.textContent = on ? "Mute mic" : "Unmute mic";
  button.setAttribute("aria-pressed", String(!on));
  button.classList.toggle("off", !on);
}

// -- the device's events ------------------------------------------------------------
function onAnyMessage(m: RTVIMessage): void {
  if (params.has("debug")) received.push({ at: Math.round(performance.now()), type: m.type, data: m.data });
  // client-js has no callback for bot-interrupted: the transport tells us (transport.ts).
  if (m.type !== "bot-interrupted" || !client) return;
  media.flush();
  media.release();
  talk.botInterrupted();
  latency.measuredHere(undefined); // an interrupted turn reports no metrics
  setState("listening");
}

const events: RTVIEventCallbacks = {
  onBotReady: () => {
    talk.note("connected");
    setState("listening");
    showError("");
    void loadPanels();
  },
  onDisconnected: () => void hangUp(),
  onUserStartedSpeaking: () => {
    media.flush(true); // barge-in: silence the bot now, before the device confirms
    setState("listening");
  },
  onUserStoppedSpeaking: () => {
    stoppedAt = performance.now();
    latency.measuredHere(undefined);
  },
  onUserTranscript: (t) => {
    talk.userTranscript(t.text, t.final);
    if (t.final && t.text.trim() && state !== "speaking") setState("thinking"); // noise gets no final
  },
  onBotLlmStarted: () => {
    if (state !== "speaking") setState("thinking");
  },
  onBotLlmStopped: () => {
    if (textOnly && state === "thinking") setState("listening");
    textOnly = false;
  },
  onBotStartedSpeaking: () => {
    media.release();
    setState("speaking");
  },
  onBotStoppedSpeaking: () => {
    talk.botDone();
    setState("listening");
  },
  onTrackStarted: (track, participant) => {
    if (media instanceof WebRtcMedia && !participant?.local) media.playRemote(track);
  },
  onBotOutput: (o) => talk.botOutput(o),
  onBotTtsText: (t) => talk.botTtsText(t.text),
  onMetrics: (m) => latency.add(m),
  onDeviceError: (e) => showNotice(micError(e)),
  onServerMessage: (data) => {
    const notice = backendNotice(data);
    if (notice === undefined) return;
    showNotice(notice);
    backendShown = Boolean(notice);
  },
  onError: (m) => {
    // "error-response" here is startBot's failure, which connect() explains better.
    if (m.type !== "error") return;
    if (!errorShown) showError(plain(errorText(m)));
    if ((m.data as { fatal?: boolean })?.fatal) void hangUp();
  },
  onMessageError: (m) => {
    // Shown here only when no form is showing it (the form's catch runs first).
    setTimeout(() => {
      if (!handled.has(m)) showError(plain(errorText(m)));
    });
  },
};

/** The callbacks for one client: a late event from an old connection changes nothing. */
function callbacksFor(get: () => PipecatClient): RTVIEventCallbacks {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(events)) {
    wrapped[name] = (...args: unknown[]) => {
      if (client === get()) (fn as (...a: unknown[]) => void)(...args);
    };
  }
  return wrapped as RTVIEventCallbacks;
}

/** WebRTC unless the user (or ?transport=websocket) chose the WebSocket. */
function useWebRtc(): boolean {
  return $<HTMLSelectElement>("transport").value !== "websocket";
}

/** One per connection, so that an old one still closing cannot touch the new one's audio. */
function newMedia(): Media {
  let m: Media;
  if (useWebRtc()) {
    m = new WebRtcMedia();
  } else {
    m = new BrowserMediaManager();
    m.forceScriptProcessor = params.get("capture") === "script";
  }
  m.onLevel = (v) => ($("level").style.width = `${Math.round(v * 100)}%`);
  m.onPlaybackStart = (audibleAt) => {
    if (stoppedAt === undefined) return;
    latency.measuredHere((audibleAt - stoppedAt) / 1000);
    stoppedAt = undefined;
  };
  return m;
}

// -- connecting -----------------------------------------------------------------------
async function connect(): Promise<void> {
  const mine = ++attempt;
  media = newMedia();
  media.unlock(); // in the click itself: phones only start audio from a user gesture
  const token = $<HTMLInputElement>("token").value.trim();
  localStorage.setItem(TOKEN_KEY, token);
  showError("");
  showNotice("");
  setState("connecting");
  const rtc = media instanceof WebRtcMedia;
  const c: PipecatClient = new PipecatClient({
    transport: media instanceof WebRtcMedia ? rtcTransport(media, onAnyMessage) : deviceTransport(media, onAnyMessage),
    enableMic: true,
    enableCam: false,
    callbacks: callbacksFor(() => c),
  });
  client = c;
  showMic(true);
  setTimeout(() => {
    if (client === c && state === "connecting") {
      showError("The device did not answer in time.");
      void hangUp();
    }
  }, 20000);
  try {
    // /webrtc/start answers a session id (the offer goes to /webrtc/sessions/<id>/api/offer);
    // /start the WebSocket URL (and the token, which the transport adds to it).
    await c.startBotAndConnect({
      endpoint: `${location.origin}${rtc ? "/webrtc/start" : "/start"}`,
      requestData: token ? { token } : {},
      timeout: 15000,
    });
  } catch (err) {
    if (mine !== attempt) return; // the user gave up, or tried again
    const text = await startError(err, Boolean(token));
    if (!errorShown) showError(text);
    if (/token/i.test(text)) {
      $<HTMLDetailsElement>("connection").open = true;
      $("token").focus();
    }
    await hangUp();
  }
}

async function hangUp(): Promise<void> {
  const c = client;
  client = null;
  stoppedAt = undefined;
  if (state !== "disconnected" && state !== "connecting") talk.note("disconnected");
  $("level").style.width = "0";
  setState("disconnected");
  settings.reset();
  $("actions").innerHTML = `<p class="hint">Connect to see the actions.</p>`;
  await c?.disconnect().catch(() => undefined);
}

async function loadPanels(): Promise<void> {
  try {
    await settings.load();
    renderActions($("actions"), (await request("describe-actions")).actions, request);
  } catch (err) {
    showError(`Could not read the device's settings: ${(err as Error).message}`);
  }
}

async function showDevice(): Promise<void> {
  try {
    const health = await (await fetch("/health")).json();
    const models = health.models ? Object.entries(health.models).map(([k, v]) => `${k}: ${v}`).join(", ") : "";
    $("device").textContent = `${health.device_id ?? ""}${health.status === "ok" ? "" : " (starting)"}`;
    $("device").title = `rtvi-edge ${health.version ?? ""} ${models}`.trim();
  } catch {
    $("device").textContent = "unreachable";
  }
}

// -- controls ---------------------------------------------------------------------------
$("connect").onclick = () => {
  if (!client) return void connect();
  attempt++;
  void hangUp();
};
$("mic").onclick = () => {
  if (!client) return;
  const on = !client.isMicEnabled;
  client.enableMic(on);
  showMic(on);
};
$<HTMLFormElement>("send").onsubmit = (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("text");
  const text = input.value.trim();
  if (!client || !text || state === "connecting") return;
  input.value = "";
  talk.userTyped(text);
  setState("thinking");
  const speak = $<HTMLInputElement>("speak").checked;
  textOnly = !speak;
  client
    .sendText(text, { audio_response: speak, run_immediately: true })
    .catch((err: unknown) => showError(plain(errorText(err))));
};
$<HTMLInputElement>("token").value = localStorage.getItem(TOKEN_KEY) ?? "";
$<HTMLSelectElement>("transport").value =
  params.get("transport") ?? localStorage.getItem(TRANSPORT_KEY) ?? (window.RTCPeerConnection ? "webrtc" : "websocket");
$("transport").onchange = () => localStorage.setItem(TRANSPORT_KEY, $<HTMLSelectElement>("transport").value);
$("token").onchange = () => localStorage.setItem(TOKEN_KEY, $<HTMLInputElement>("token").value.trim());
setState("disconnected");
void showDevice();

// For the integration test and the curious (the browser console).
Object.assign(window, {
  rtviEdge: {
    get media() {
      return media;
    },
    get client() {
      return client;
    },
    received,
  },
});
