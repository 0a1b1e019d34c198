// The official RTVI web client (@pipecat-ai/client-js 1.13.1 + @pipecat-ai/websocket-transport
// 1.7.1) under Node, driven by a JSON plan, reporting everything it sees as JSON lines on stdout.
//
//   node rtvi-client.mjs plan.json
//
// Plan: { "wsUrl": "ws://host:port/ws" | "startEndpoint": "http://host:port/start",
//         "token": "...",            // wsUrl: appended as ?token= by the transport;
//                                    // startEndpoint: POST body {token} + Authorization: Bearer
//         "requestData": {...}, "headers": {...},   // startEndpoint only, optional
//         "timeoutMs": 60000,        // hard limit for the whole run: the process always ends
//         "logLevel": "INFO",        // client-js logger (NONE|ERROR|WARN|INFO|DEBUG), on stderr
//         "botAudioWav": "/path",    // optional: write the bot audio received (24 kHz s16 mono)
//         "protocolVersion": "1.1.0" | null,  // optional: the version client-ready declares
//                                    // (null: none, as 0.x clients); default client-js's own
//         "conversation": true,      // optional: mount client-react's conversation state
//                                    // (usePipecatConversation, tests/client/conversation.mjs);
//                                    // each change is a {"event":"conversation","data":messages}
//         "steps": [...] }
// Steps (each may carry "optional": true: a failure is reported but the plan goes on):
//   {"do":"connect", "timeoutMs":30000}                 result: the bot-ready data
//   {"do":"wait", "event":"userTranscript" | "type":"user-transcription",
//    "where":{"final":true}, "count":1, "timeoutMs":30000, "since":N | "fromStart":true}
//        "event" matches output lines (callbacks such as botReady, userTranscript, error;
//        also message, botAudio, firstBotAudio, speechEnd, functionHandlerCalled);
//        "type" matches RTVI messages the client received. "where" compares fields of the
//        line's data (else of the line itself). Only lines observed since the last mark
//        count; speak, sendText and mark set the mark. Fails at once if the client
//        disconnects first.
//   {"do":"speak", "wav":"/path/16k.wav", "speechEndOffsetMs":1234, "waitForEnd":false}
//        queues the WAV (PCM s16le 16 kHz mono) on the microphone, which streams in real time
//        (512-byte chunks every 16 ms) and sends silence whenever nothing is queued.
//   {"do":"sendText", "text":"...", "audioResponse":true, "runImmediately":true}
//   {"do":"request", "t":"get-config", "d":{...}, "timeoutMs":10000}   sendClientRequest
//   {"do":"message", "t":"...", "d":{...}}                             sendClientMessage
//   {"do":"raw", "msg":{"type":"describe-config","data":{},"id":"x"}, "noReply":false,
//    "timeoutMs":10000}   any RTVI message through the transport (label/id filled in when
//        missing); result: the server's message with the same id. (Also "type"/"data"/"id".)
//   {"do":"registerFunction", "name":"get_weather", "result":{...}, "delayMs":0}
//        (a handler without "result" returns nothing, and then the client sends nothing)
//   {"do":"call", "method":"sendDTMF", "args":["12#"]}   any PipecatClient method (sendUIEvent,
//        cancelUIJobGroup, appendToContext...); result: what it returned (awaited)
//   {"do":"conversation"}   result: client-react's current conversation messages
//   {"do":"mic", "enabled":false}   {"do":"mark"}   {"do":"sleep","ms":N}
//   {"do":"disconnectBot"}   {"do":"disconnect"}
// Output lines, each with "t" = ms since the harness started:
//   {"event":<callback name without "on", first letter lower-cased; onLLM* → llm*>,"data":...}
//   {"event":"message","type":..,"id":..,"data":..}   every RTVI message the client received
//   {"event":"speechEnd","speechEndMs":..,"speak":k}  when the last speech sample was sent
//   {"event":"firstBotAudio","msAfterSpeechEnd":..,"speak":k}   first bot audio after that
//   {"event":"botAudio","frames":..,"samples":..,"newFrames":..,"newSamples":..,
//    "firstT":..,"lastT":..}   cumulative counts, at most one line per 200 ms
//   {"event":"step","index":i,"do":..,"ok":bool,"result"|"error":..}
//   {"event":"done","ok":bool}   exit code 0 when every step succeeded, else 1.
//
// Node has no browser. Shims: WebSocket from `ws` with binaryType "blob" (the transport's
// protobuf deserializer only accepts Blob); a bare `window` (client-js reads
// `window?.navigator` when it builds client-ready's `about`); and our own media manager
// instead of the default one (which loads a browser helper from the internet and needs
// getUserMedia/AudioContext). Library logging goes to stderr so stdout is only JSON lines.
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import WS from "ws";
import { LogLevel, PipecatClient, RTVIMessage, logger } from "@pipecat-ai/client-js";
import { WavMediaManager, WebSocketTransport } from "@pipecat-ai/websocket-transport";

const t0 = performance.now();
const now = () => Math.round((performance.now() - t0) * 10) / 10;
const observed = []; // every line written, in order (waits look here)
const waiters = new Set();

function out(obj) {
  const line = { t: now(), ...obj };
  let text;
  try {
    text = JSON.stringify(line, (_k, v) => (typeof v === "bigint" ? Number(v) : v));
  } catch (e) {
    text = JSON.stringify({ t: line.t, event: line.event, unserializable: String(e) });
  }
  process.stdout.write(text + "\n");
  observed.push(line);
  for (const w of [...waiters]) w();
  return line;
}

// ---------------------------------------------------------------- Node shims
for (const name of ["log", "info", "debug", "warn"]) console[name] = console.error;

class BlobWebSocket extends WS {
  constructor(...args) {
    super(...args);
    this.binaryType = "blob"; // ws (8.23) then hands binary messages over as Blob, like a browser
  }
}
globalThis.WebSocket = BlobWebSocket;
if (typeof globalThis.window === "undefined") {
  globalThis.window = { navigator: { userAgent: `Node.js/${process.version} (rtvi-edge tests)` } };
}

// ---------------------------------------------------------------- microphone and speaker
const RATE = 16000;
const CHUNK = 512; // bytes: 256 samples = 16 ms at 16 kHz, like the browser recorder
const CHUNK_MS = (CHUNK / 2 / RATE) * 1000;
const PLAYER_RATE = 24000;
const SILENCE = new Uint8Array(CHUNK);
// The package's abstract MediaManager is not exported; WavMediaManager extends it.
const MediaManagerBase = Object.getPrototypeOf(WavMediaManager);

class FileMediaManager extends MediaManagerBase {
  constructor(botAudioWav) {
    super();
    this._queue = []; // {chunk, speechEndByte?, speak?} still to send
    this._timer = null;
    this._next = 0;
    this._pendingFirstAudio = null; // {speak, at}
    this._speakDone = [];
    this.audioFrames = 0;
    this.audioSamples = 0;
    this._batch = null;
    this._lastReport = -Infinity;
    this._flushTimer = null;
    this._keep = botAudioWav ? [] : null;
    this.micChunksSent = 0;
  }
  async initialize() {}
  async connect() {
    if (this._timer) return;
    this._next = performance.now();
    this._tick();
  }
  async disconnect() {
    clearTimeout(this._timer);
    this._timer = null;
    this.flushAudioReport();
  }
  async userStartedSpeaking() {}

  // Queue a WAV's PCM; speechEndMs is where the speech inside it ends (default: its end).
  speak(pcm, speechEndOffsetMs, index) {
    const total = pcm.length - (pcm.length % 2);
    let endByte = total;
    if (typeof speechEndOffsetMs === "number" && speechEndOffsetMs >= 0) {
      endByte = Math.min(total, Math.round((speechEndOffsetMs * RATE) / 1000) * 2);
    }
    const entries = [];
    for (let i = 0; i < total; i += CHUNK) {
      const chunk = new Uint8Array(CHUNK); // the last one padded with silence
      chunk.set(pcm.subarray(i, Math.min(i + CHUNK, total)));
      entries.push({ chunk });
    }
    if (!entries.length) entries.push({ chunk: new Uint8Array(CHUNK) });
    const at = Math.min(entries.length - 1, Math.max(0, Math.ceil(endByte / CHUNK) - 1));
    // Milliseconds of audio in that chunk after the speech's last sample.
    entries[at].speechEnd = { speak: index, afterMs: ((at + 1) * CHUNK - endByte) / 2 / RATE * 1000 };
    entries[entries.length - 1].lastOf = index;
    this._queue.push(...entries);
    return new Promise((resolve) => this._speakDone.push({ index, resolve }));
  }

  _tick() {
    // Bounded catch-up: after a stall, send what is due at once, like a real recorder would.
    let due = Math.min(64, Math.floor((performance.now() - this._next) / CHUNK_MS) + 1);
    while (due-- > 0) {
      const entry = this._queue.length ? this._queue.shift() : null;
      const chunk = entry ? entry.chunk : SILENCE;
      if (this._userAudioCallback && this._micEnabled) {
        this._userAudioCallback(chunk.slice().buffer);
        this.micChunksSent += 1;
      }
      if (entry?.speechEnd) {
        // the chunk is delivered when its last sample is "captured"
        const speechEndMs = Math.round((now() - entry.speechEnd.afterMs) * 10) / 10;
        this._pendingFirstAudio = { speak: entry.speechEnd.speak, at: speechEndMs };
        out({ event: "speechEnd", speechEndMs, speak: entry.speechEnd.speak });
      }
      if (entry && entry.lastOf !== undefined) {
        const i = this._speakDone.findIndex((s) => s.index === entry.lastOf);
        if (i >= 0) this._speakDone.splice(i, 1)[0].resolve();
      }
      this._next += CHUNK_MS;
    }
    if (performance.now() - this._next > 1000) this._next = performance.now(); // long stall
    this._timer = setTimeout(() => this._tick(), Math.max(0, this._next - performance.now()));
  }

  bufferBotAudio(data) {
    const pcm = data instanceof Int16Array ? data : new Int16Array(data);
    const t = now();
    this.audioFrames += 1;
    this.audioSamples += pcm.length;
    if (this._keep) this._keep.push(Int16Array.from(pcm));
    if (this._pendingFirstAudio) {
      const { speak, at } = this._pendingFirstAudio;
      this._pendingFirstAudio = null;
      out({ event: "firstBotAudio", speak, speechEndMs: at,
        msAfterSpeechEnd: Math.round((t - at) * 10) / 10 });
    }
    if (!this._batch) this._batch = { frames: 0, samples: 0, firstT: t, lastT: t };
    this._batch.frames += 1;
    this._batch.samples += pcm.length;
    this._batch.lastT = t;
    if (t - this._lastReport >= 200) this.flushAudioReport();
    else if (!this._flushTimer) {
      this._flushTimer = setTimeout(() => this.flushAudioReport(), 200 - (t - this._lastReport));
    }
    return pcm;
  }
  flushAudioReport() {
    clearTimeout(this._flushTimer);
    this._flushTimer = null;
    if (!this._batch) return;
    const b = this._batch;
    this._batch = null;
    this._lastReport = now();
    out({ event: "botAudio", frames: this.audioFrames, samples: this.audioSamples,
      newFrames: b.frames, newSamples: b.samples, firstT: b.firstT, lastT: b.lastT });
  }
  writeBotAudio(path) {
    if (!this._keep) return;
    const n = this._keep.reduce((a, c) => a + c.length, 0);
    const buf = Buffer.alloc(44 + n * 2);
    buf.write("RIFF", 0); buf.writeUInt32LE(36 + n * 2, 4); buf.write("WAVEfmt ", 8);
    buf.writeUInt32LE(16, 16); buf.writeUInt16LE(1, 20); buf.writeUInt16LE(1, 22);
    buf.writeUInt32LE(PLAYER_RATE, 24); buf.writeUInt32LE(PLAYER_RATE * 2, 28);
    buf.writeUInt16LE(2, 32); buf.writeUInt16LE(16, 34); buf.write("data", 36);
    buf.writeUInt32LE(n * 2, 40);
    let off = 44;
    for (const c of this._keep) {
      Buffer.from(c.buffer, c.byteOffset, c.byteLength).copy(buf, off);
      off += c.byteLength;
    }
    writeFileSync(path, buf);
  }

  async getAllMics() { return []; }
  async getAllCams() { return []; }
  async getAllSpeakers() { return []; }
  updateMic() {}
  updateCam() {}
  updateSpeaker() {}
  get selectedMic() { return {}; }
  get selectedCam() { return {}; }
  get selectedSpeaker() { return {}; }
  enableMic(enable) { this._micEnabled = enable; }
  enableCam() {}
  enableScreenShare() {}
  get isCamEnabled() { return false; }
  get isMicEnabled() { return this._micEnabled; }
  get isSharingScreen() { return false; }
  tracks() { return { local: {} }; }
}

function readWavPcm(path) {
  // Expects PCM s16le 16 kHz mono (the Python side converts with sox).
  const buf = readFileSync(path);
  if (buf.toString("ascii", 0, 4) !== "RIFF" || buf.toString("ascii", 8, 12) !== "WAVE") {
    throw new Error(`${path}: not a WAV file`);
  }
  let off = 12;
  let fmt = null;
  for (let guard = 0; off + 8 <= buf.length && guard < 1000; guard++) {
    const id = buf.toString("ascii", off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === "fmt ") {
      fmt = { format: buf.readUInt16LE(off + 8), channels: buf.readUInt16LE(off + 10),
        rate: buf.readUInt32LE(off + 12), bits: buf.readUInt16LE(off + 22) };
    } else if (id === "data") {
      if (!fmt || fmt.format !== 1 || fmt.channels !== 1 || fmt.rate !== RATE || fmt.bits !== 16) {
        throw new Error(`${path}: need PCM s16le ${RATE} Hz mono, got ${JSON.stringify(fmt)}`);
      }
      const len = Math.min(size, buf.length - off - 8);
      return new Uint8Array(buf.buffer, buf.byteOffset + off + 8, len - (len % 2));
    }
    off += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

// ---------------------------------------------------------------- client
const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
logger.setLevel(LogLevel[plan.logLevel ?? "INFO"] ?? LogLevel.INFO);
const media = new FileMediaManager(plan.botAudioWav);
const transport = new WebSocketTransport({ mediaManager: media });

// See every RTVI message the transport hands to the client (the 0.x replies too, which
// client-js only logs as unrecognized).
const origInitialize = transport.initialize.bind(transport);
transport.initialize = (options, handler) => origInitialize(options, (msg) => {
  out({ event: "message", type: msg?.type, id: msg?.id, data: msg?.data });
  return handler(msg);
});

const callbackNames = ["onConnected", "onDisconnected", "onTransportStateChanged", "onError",
  "onBotStarted", "onBotConnected", "onBotReady", "onBotDisconnected", "onMetrics",
  "onServerMessage", "onMessageError", "onParticipantJoined", "onParticipantLeft",
  "onUnsupportedFeature", "onDeviceError", "onUserStartedSpeaking", "onUserStoppedSpeaking",
  "onBotStartedSpeaking", "onBotStoppedSpeaking", "onUserMuteStarted", "onUserMuteStopped",
  "onUserTranscript", "onUserLlmText", "onBotOutput", "onBotTranscript", "onBotLlmText",
  "onBotLlmStarted", "onBotLlmStopped", "onBotTtsText", "onBotTtsStarted", "onBotTtsStopped",
  "onLLMFunctionCallStarted", "onLLMFunctionCallInProgress", "onLLMFunctionCallStopped",
  "onLLMFunctionCall", "onBotLlmSearchResponse", "onUICommand", "onUIJobGroup"];
const eventName = (cb) => (cb.startsWith("onLLM") ? "llm" + cb.slice(5)
  : cb.startsWith("onUI") ? "ui" + cb.slice(4) : cb.slice(2, 3).toLowerCase() + cb.slice(3));
let disconnected = false;
const callbacks = {};
for (const cb of callbackNames) {
  const event = eventName(cb);
  callbacks[cb] = (data) => {
    if (event === "disconnected") disconnected = true;
    if (event === "connected") disconnected = false;
    out(data === undefined ? { event } : { event, data });
  };
}
if ("protocolVersion" in plan) {
  // An older (or broken) client: the same library, declaring another version.
  const clientReady = RTVIMessage.clientReady;
  RTVIMessage.clientReady = function () {
    const msg = clientReady.call(this);
    if (plan.protocolVersion === null) delete msg.data.version;
    else msg.data.version = plan.protocolVersion;
    return msg;
  };
}
const client = new PipecatClient({ transport, enableMic: true, enableCam: false, callbacks });
const conversation = plan.conversation
  ? (await import("./conversation.mjs")).mountConversation(client, (messages) =>
      out({ event: "conversation", data: messages }))
  : null;

// ---------------------------------------------------------------- steps
function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function fieldOf(line, key) {
  const d = line.data;
  if (d && typeof d === "object" && key in d) return d[key];
  return line[key];
}

function waitFor(pred, since, count, timeoutMs, failOnDisconnect, what) {
  return new Promise((resolve, reject) => {
    let timer = null;
    const finish = (fn, v) => { waiters.delete(check); clearTimeout(timer); fn(v); };
    let pos = since;
    let hits = 0;
    const check = () => { // incremental: each line is looked at once
      for (; pos < observed.length; pos++) {
        if (pred(observed[pos]) && ++hits >= count) return finish(resolve, observed[pos]);
      }
      if (failOnDisconnect && disconnected) {
        finish(reject, new Error(`${what}: the client disconnected first`));
      }
    };
    timer = setTimeout(() => finish(reject, new Error(`${what}: timed out after ${timeoutMs} ms`)),
      timeoutMs);
    waiters.add(check);
    check();
  });
}

let mark = 0;
let speakCount = 0;

async function run(step) {
  switch (step.do) {
    case "connect": {
      let p;
      if (plan.startEndpoint) {
        const requestData = { ...(plan.requestData ?? {}), ...(plan.token ? { token: plan.token } : {}) };
        const headers = new Headers(plan.headers ?? {});
        if (plan.token) headers.set("Authorization", `Bearer ${plan.token}`);
        p = client.startBotAndConnect({ endpoint: plan.startEndpoint, requestData, headers,
          timeout: step.timeoutMs ?? 30000 });
      } else {
        p = client.connect({ wsUrl: plan.wsUrl, ...(plan.token ? { token: plan.token } : {}) });
      }
      return withTimeout(p, step.timeoutMs ?? 30000, "connect");
    }
    case "wait": {
      if (!step.event && !step.type) throw new Error("wait needs an event or a type");
      const since = step.fromStart ? 0 : (step.since ?? mark);
      const where = Object.entries(step.where ?? {});
      const pred = (line) => {
        if (step.type !== undefined ? (line.event !== "message" || line.type !== step.type)
          : line.event !== step.event) return false;
        return where.every(([k, v]) => JSON.stringify(fieldOf(line, k)) === JSON.stringify(v));
      };
      const aboutDisconnect = ["disconnected", "error", "transportStateChanged"].includes(step.event);
      return waitFor(pred, since, step.count ?? 1, step.timeoutMs ?? 30000,
        step.failOnDisconnect ?? !aboutDisconnect, `wait for ${step.event ?? step.type}`);
    }
    case "mark":
      mark = observed.length;
      return { mark };
    case "speak": {
      mark = observed.length;
      const index = speakCount++;
      const done = media.speak(readWavPcm(step.wav), step.speechEndOffsetMs, index);
      if (step.waitForEnd) await withTimeout(done, step.timeoutMs ?? 120000, "speak");
      return { speak: index };
    }
    case "sendText": {
      mark = observed.length;
      const options = { audio_response: step.audioResponse ?? true, ...(step.options ?? {}) };
      if (step.runImmediately !== undefined) options.run_immediately = step.runImmediately;
      await client.sendText(step.text, options);
      return null;
    }
    case "request": {
      const timeoutMs = step.timeoutMs ?? 10000;
      // client-js checks its own request timeout every 2 s: leave it room to answer first
      return withTimeout(client.sendClientRequest(step.t, step.d ?? {}, timeoutMs),
        timeoutMs + 3000, `request ${step.t}`);
    }
    case "message":
      client.sendClientMessage(step.t, step.d);
      return null;
    case "raw": {
      const src = step.msg ?? { type: step.type, data: step.data ?? {}, id: step.id };
      // sent as given, with the label and an id filled in when missing
      const msg = { label: "rtvi-ai", ...src, id: src.id ?? randomUUID().slice(0, 8) };
      const since = observed.length;
      transport.sendMessage(msg);
      if (step.noReply) return { sent: msg };
      const line = await waitFor((l) => l.event === "message" && l.id === msg.id, since, 1,
        step.timeoutMs ?? 10000, true, `reply to ${msg.type} ${msg.id}`);
      return { label: "rtvi-ai", type: line.type, id: line.id, data: line.data };
    }
    case "registerFunction":
      client.registerFunctionCallHandler(step.name, async (params) => {
        out({ event: "functionHandlerCalled", name: step.name, params });
        if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
        return step.result;
      });
      return null;
    case "call": {
      const result = await client[step.method](...(step.args ?? []));
      return result === undefined ? null : result;
    }
    case "conversation":
      if (!conversation) throw new Error('plan has no "conversation": true');
      return conversation.messages();
    case "mic":
      client.enableMic(step.enabled ?? true);
      return null;
    case "sleep":
      return new Promise((r) => setTimeout(r, step.ms ?? 0));
    case "disconnectBot":
      client.disconnectBot();
      return null;
    case "disconnect":
      return withTimeout(client.disconnect(), step.timeoutMs ?? 10000, "disconnect");
    default:
      throw new Error(`unknown step ${JSON.stringify(step.do)}`);
  }
}

// ---------------------------------------------------------------- main
let finished = false;
async function finish(ok, extra = {}) {
  if (finished) return;
  finished = true;
  if (!disconnected && client.state !== "disconnected") {
    try {
      await withTimeout(Promise.resolve().then(() => client.disconnect()), 3000, "final disconnect");
    } catch { /* already gone */ }
  }
  await media.disconnect();
  try {
    if (plan.botAudioWav) media.writeBotAudio(plan.botAudioWav);
  } catch (e) {
    out({ event: "harnessError", error: `botAudioWav: ${e?.message ?? e}` });
    ok = false;
  }
  out({ event: "done", ok, micChunksSent: media.micChunksSent, ...extra });
  process.exit(ok ? 0 : 1);
}

process.on("unhandledRejection", (e) => out({ event: "harnessError", error: String(e?.message ?? e) }));
process.on("uncaughtException", (e) => out({ event: "harnessError", error: String(e?.stack ?? e) }));
const hardLimit = plan.timeoutMs ?? 60000;
let current = null; // [index, step] in progress
setTimeout(() => {
  // a last resort if even the orderly finish hangs
  setTimeout(() => process.exit(1), 4000).unref();
  const error = `plan timeout after ${hardLimit} ms`;
  if (current) out({ event: "step", index: current[0], do: current[1].do, ok: false, error });
  void finish(false, { error });
}, hardLimit);

let ok = true;
for (const [index, step] of (plan.steps ?? []).entries()) {
  if (finished) break;
  current = [index, step];
  try {
    const result = await run(step);
    if (finished) break;
    out({ event: "step", index, do: step.do, ok: true, result: result ?? null });
  } catch (e) {
    if (finished) break;
    ok = false;
    // a rejected sendClientRequest hands over the server's error-response message itself
    const error = e?.data?.error ?? e?.data?.message ?? e?.message ?? JSON.stringify(e);
    const line = { event: "step", index, do: step.do, ok: false, error: String(error) };
    if (e instanceof RTVIMessage || e?.label === "rtvi-ai") line.response = e;
    out(line);
    if (!step.optional) break;
  }
}
current = null;
await finish(ok);
