// The official RTVI web client (@pipecat-ai/client-js + websocket-transport) under Node,
// driven by a JSON plan, reporting what it sees as JSON lines on stdout.
//
// Node has no browser: WebSocket comes from `ws` (binary messages handed over as Blob,
// as the transport's deserializer requires), and the microphone / speaker are a small
// media manager that streams a WAV's PCM in real time (512-byte chunks every 16 ms, like
// the browser recorder) and records the bot's audio instead of playing it.
import { readFileSync } from "node:fs";
import WS from "ws";
import { PipecatClient, RTVIMessage } from "@pipecat-ai/client-js";
import { WebSocketTransport } from "@pipecat-ai/websocket-transport";

const t0 = Date.now();
const now = () => Date.now() - t0;
const out = (obj) => process.stdout.write(JSON.stringify({ t: now(), ...obj }) + "\n");

class BlobWebSocket extends WS {
  addEventListener(type, listener, options) {
    if (type !== "message") return super.addEventListener(type, listener, options);
    return super.addEventListener("message", (ev) => {
      const data = typeof ev.data === "string" ? ev.data : new Blob([ev.data]);
      listener({ data });
    }, options);
  }
}
globalThis.WebSocket = BlobWebSocket;
if (!globalThis.navigator) globalThis.navigator = { userAgent: "node" };
// client-js reads `window?.navigator` (a bare `window` must exist) for its about-client data.
if (!globalThis.window) globalThis.window = globalThis;

const CHUNK = 512; // bytes: 256 samples at 16 kHz = 16 ms

class FileMediaManager {
  constructor() {
    this._cb = null;
    this._micEnabled = true;
    this._queue = []; // Uint8Array chunks still to send
    this._timer = null;
    this._speechEnd = null; // { chunk, offsetMs } of the current `speak` step
    this.speechEndAt = null; // wall time the last speech sample was sent
    this.firstAudioPending = false;
    this.audioFrames = 0;
    this.audioSamples = 0;
    this._lastReport = 0;
  }
  setUserAudioCallback(cb) { this._cb = cb; }
  setClientOptions(options) { this._options = options; }
  async initialize() {}
  async connect() { this._start(); }
  async disconnect() { clearTimeout(this._timer); this._timer = null; }
  async userStartedSpeaking() {}
  speak(pcm, speechEndOffsetMs) {
    const endByte = speechEndOffsetMs == null ? pcm.length
      : Math.min(pcm.length, Math.round(speechEndOffsetMs * 16) * 2);
    for (let i = 0; i < pcm.length; i += CHUNK) {
      const chunk = new Uint8Array(CHUNK);
      chunk.set(pcm.subarray(i, Math.min(i + CHUNK, pcm.length)));
      if (i < endByte && endByte <= i + CHUNK) this._speechEnd = chunk;
      this._queue.push(chunk);
    }
    if (!this._speechEnd && this._queue.length) this._speechEnd = this._queue[this._queue.length - 1];
  }
  _start() {
    let next = Date.now();
    const tick = () => {
      const chunk = this._queue.length ? this._queue.shift() : new Uint8Array(CHUNK);
      if (this._cb && this._micEnabled) this._cb(chunk.buffer);
      if (chunk === this._speechEnd) {
        this._speechEnd = null;
        this.speechEndAt = Date.now();
        this.firstAudioPending = true;
        out({ event: "speechEnd" });
      }
      next += 16;
      this._timer = setTimeout(tick, Math.max(0, next - Date.now()));
    };
    tick();
  }
  bufferBotAudio(data) {
    const samples = data.byteLength !== undefined && !(data instanceof Int16Array)
      ? data.byteLength / 2 : data.length;
    this.audioFrames += 1;
    this.audioSamples += samples;
    if (this.firstAudioPending) {
      this.firstAudioPending = false;
      out({ event: "firstBotAudio", msAfterSpeechEnd: Date.now() - this.speechEndAt });
    }
    if (now() - this._lastReport > 200) {
      this._lastReport = now();
      out({ event: "botAudio", frames: this.audioFrames, samples: this.audioSamples });
    }
    return data instanceof Int16Array ? data : new Int16Array(data);
  }
  async getAllMics() { return []; }
  async getAllCams() { return []; }
  async getAllSpeakers() { return []; }
  updateMic() {} updateCam() {} updateSpeaker() {}
  get selectedMic() { return {}; }
  get selectedCam() { return {}; }
  get selectedSpeaker() { return {}; }
  enableMic(enable) { this._micEnabled = enable; }
  enableCam() {} enableScreenShare() {}
  get isCamEnabled() { return false; }
  get isMicEnabled() { return this._micEnabled; }
  get isSharingScreen() { return false; }
  get supportsScreenShare() { return false; }
  tracks() { return { local: {} }; }
}

function readWavPcm(path) {
  // 16 kHz mono s16le PCM WAV (the tests convert with sox); find the "data" chunk.
  const buf = readFileSync(path);
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString("ascii", off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === "data") return new Uint8Array(buf.buffer, buf.byteOffset + off + 8, Math.min(size, buf.length - off - 8));
    off += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const media = new FileMediaManager();
const transport = new WebSocketTransport({ mediaManager: media });
const seen = []; // every RTVI message the transport handed to the client
const waiters = [];

// Record every raw message the client receives (also the 0.x replies it has no callback for).
const origInitialize = transport.initialize.bind(transport);
transport.initialize = (options, handler) => origInitialize(options, (msg) => {
  seen.push(msg);
  out({ event: "message", type: msg.type, id: msg.id, data: msg.data });
  for (const w of [...waiters]) w();
  return handler(msg);
});

const callbackNames = ["onBotReady", "onUserStartedSpeaking", "onUserStoppedSpeaking",
  "onUserTranscript", "onBotLlmStarted", "onBotLlmText", "onBotLlmStopped", "onBotTtsStarted",
  "onBotTtsText", "onBotTtsStopped", "onBotStartedSpeaking", "onBotStoppedSpeaking",
  "onBotOutput", "onBotTranscript", "onMetrics", "onError", "onMessageError",
  "onServerMessage", "onLLMFunctionCallStarted", "onLLMFunctionCallInProgress",
  "onLLMFunctionCallStopped", "onLLMFunctionCall", "onDisconnected", "onConnected",
  "onTransportStateChanged"];
const callbacks = {};
for (const name of callbackNames) {
  callbacks[name] = (data) => out({ event: name.slice(2, 3).toLowerCase() + name.slice(3), data });
}
const client = new PipecatClient({ transport, enableMic: true, enableCam: false, callbacks });

function waitFor(pred, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const hit = seen.find(pred);
      if (hit) { waiters.splice(waiters.indexOf(check), 1); clearTimeout(timer); resolve(hit); }
    };
    const timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(check), 1);
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    waiters.push(check);
    check();
  });
}

function matches(msg, step, since) {
  if (msg.type !== step.type) return false;
  if (seen.indexOf(msg) < since) return false;
  for (const [k, v] of Object.entries(step.where || {})) {
    if (JSON.stringify(msg.data?.[k]) !== JSON.stringify(v)) return false;
  }
  return true;
}

async function run(step) {
  switch (step.do) {
    case "connect":
      if (plan.startEndpoint) {
        return client.startBotAndConnect({ endpoint: plan.startEndpoint,
          requestData: plan.token ? { token: plan.token } : {} });
      }
      return client.connect({ wsUrl: plan.wsUrl, ...(plan.token ? { token: plan.token } : {}) });
    case "wait": {
      const since = step.fromStart ? 0 : (step.since ?? lastMark);
      return waitFor((m) => matches(m, step, since), step.timeoutMs ?? 30000);
    }
    case "mark":
      lastMark = seen.length;
      return null;
    case "speak":
      lastMark = seen.length;
      media.speak(readWavPcm(step.wav), step.speechEndOffsetMs);
      return null;
    case "sendText":
      lastMark = seen.length;
      return client.sendText(step.text, { audio_response: step.audioResponse ?? true });
    case "request":
      return client.sendClientRequest(step.t, step.d ?? {}, step.timeoutMs ?? 10000);
    case "message":
      return client.sendClientMessage(step.t, step.d);
    case "raw": {
      const msg = new RTVIMessage(step.type, step.data ?? {}, step.id);
      const since = seen.length;
      transport.sendMessage(msg);
      return waitFor((m) => m.id === msg.id && seen.indexOf(m) >= since, step.timeoutMs ?? 10000);
    }
    case "registerFunction":
      client.registerFunctionCallHandler(step.name, async (params) => {
        out({ event: "functionHandlerCalled", name: step.name, params });
        return step.result;
      });
      return null;
    case "sleep":
      return new Promise((r) => setTimeout(r, step.ms));
    case "disconnect":
      return client.disconnect();
    default:
      throw new Error(`unknown step ${step.do}`);
  }
}

let lastMark = 0;
let ok = true;
const hardStop = setTimeout(() => { out({ event: "done", ok: false, error: "plan timeout" }); process.exit(1); },
  plan.timeoutMs ?? 60000);
for (const [i, step] of plan.steps.entries()) {
  try {
    const result = await run(step);
    out({ event: "step", index: i, do: step.do, ok: true, result: result ?? null });
  } catch (e) {
    ok = false;
    // a rejected sendClientRequest hands over the server's error-response message itself
    const error = e?.data?.error ?? e?.message ?? JSON.stringify(e);
    out({ event: "step", index: i, do: step.do, ok: false, error: String(error) });
    if (!step.optional) break;
  }
}
clearTimeout(hardStop);
try { await client.disconnect(); } catch { /* already gone */ }
out({ event: "done", ok });
process.exit(ok ? 0 : 1);
