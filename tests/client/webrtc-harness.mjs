// The official @pipecat-ai/client-js with @pipecat-ai/small-webrtc-transport or
// @pipecat-ai/websocket-transport, bundled (esbuild, IIFE) and evaluated in a Chromium
// tab of the device's origin by bench/webrtc_browser.py: both transports measured the
// same way. Its microphone is a Web Audio stream that says what `rtviHarness.speak()`
// is given; the page's own media managers (web/src/rtc-media.ts, web/src/media.ts)
// play the bot and tell when it becomes audible here.
import { PipecatClient } from "@pipecat-ai/client-js";
import { SmallWebRTCTransport } from "@pipecat-ai/small-webrtc-transport";
import { WebSocketTransport } from "@pipecat-ai/websocket-transport";
import { BrowserMediaManager } from "../../web/src/media.ts";
import { WebRtcMedia } from "../../web/src/rtc-media.ts";

const ctx = new AudioContext({ latencyHint: "interactive" });
const mic = ctx.createMediaStreamDestination();
navigator.mediaDevices.getUserMedia = async () => mic.stream; // the transport's mic

const state = { speechEnd: null, firstAudible: null, stopped: null, transcript: "", server: null, heardEnd: null, events: [] };
// Per turn, for the decomposition (bench/webrtc_compare.py --probe): when the first bot
// audio reached the page (WebSocket: its first chunk; WebRTC: unknown here), when an
// analyser on the played audio first found it above -40 dBFS, polled every 16 ms (the
// same test for both transports: the WebRTC page's own figure is this one, the
// WebSocket page's is the chunk's scheduled start plus the output latency), and
// Chrome's jitter-buffer counters across the turn.
const detail = { arrived: null, analysed: null, statsBefore: null, statsAfter: null };
const kind = new URLSearchParams(location.search).get("transport") ?? "webrtc";
const media = kind === "websocket" ? new BrowserMediaManager() : new WebRtcMedia();
media.onPlaybackStart = (at) => {
  if (state.speechEnd !== null && state.firstAudible === null && at > state.speechEnd) state.firstAudible = at;
};
const afterSpeech = () => state.speechEnd !== null && performance.now() > state.speechEnd;
if (media instanceof BrowserMediaManager) {
  const buffer = media.bufferBotAudio.bind(media);
  media.bufferBotAudio = (data) => {
    if (afterSpeech() && detail.arrived === null) detail.arrived = performance.now();
    return buffer(data);
  };
  // the page's bot chunks also feed an analyser, as the WebRTC page's track does
  const connect = AudioBufferSourceNode.prototype.connect;
  const taps = new WeakMap();
  AudioBufferSourceNode.prototype.connect = function (dest, ...rest) {
    if (dest instanceof AudioDestinationNode) {
      let tap = taps.get(dest.context);
      if (!tap) {
        tap = dest.context.createAnalyser();
        tap.fftSize = 512;
        taps.set(dest.context, tap);
        watch(tap);
      }
      connect.call(this, tap);
    }
    return connect.call(this, dest, ...rest);
  };
} else {
  const play = media.playRemote.bind(media);
  media.playRemote = (track) => {
    play(track);
    if (track.kind === "audio") watch(media.botAnalyser);
  };
}
function watch(node) {
  const samples = new Float32Array(512);
  let loud = false;
  setInterval(() => {
    node.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const v of samples) sum += v * v;
    const now = Math.sqrt(sum / samples.length) > 0.01;
    if (now && !loud && afterSpeech() && detail.analysed === null) detail.analysed = performance.now();
    loud = now;
  }, 16);
}
async function receiverStats() {
  if (!transport.pc) return null;
  for (const r of (await transport.pc.getStats()).values()) {
    if (r.type === "inbound-rtp" && r.kind === "audio")
      return {
        delay: r.jitterBufferDelay, target: r.jitterBufferTargetDelay ?? 0, minimum: r.jitterBufferMinimumDelay ?? 0,
        emitted: r.jitterBufferEmittedCount, jitter: r.jitter, concealed: r.concealedSamples, received: r.totalSamplesReceived,
      };
  }
  return null;
}
const transport =
  kind === "websocket" ? new WebSocketTransport({ mediaManager: media }) : new SmallWebRTCTransport({ mediaManager: media });

const client = new PipecatClient({
  transport,
  enableMic: true,
  enableCam: false,
  callbacks: {
    onTrackStarted: (track, participant) => {
      if (!participant?.local && media instanceof WebRtcMedia) media.playRemote(track);
    },
    onUserTranscript: (t) => {
      if (t.final) state.transcript = t.text;
    },
    onMetrics: (data) => {
      // the device's own voice-to-voice (its end of speech → its first audio out)
      const v2v = data?.processing?.find((p) => p.processor === "voice_to_voice");
      if (v2v && state.server === null) state.server = v2v.value;
    },
    onUserStoppedSpeaking: () => {
      // the device heard the end of speech (its VAD's pause included): the uplink's share
      if (state.speechEnd !== null && state.heardEnd === null) state.heardEnd = performance.now();
    },
    onBotStoppedSpeaking: () => {
      state.stopped = performance.now();
    },
    onError: (m) => state.events.push(`error ${JSON.stringify(m.data)}`),
  },
});

window.rtviHarness = {
  state,
  async connect(endpoint) {
    await ctx.resume();
    media.unlock();
    await client.startBotAndConnect({ endpoint });
    return "connected";
  },
  /** Plays 16 kHz s16le (base64) into the mic; speech ends `endSecs` into it. */
  speak(b64, endSecs) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const pcm = new Int16Array(bytes.buffer);
    const buffer = ctx.createBuffer(1, pcm.length, 16000);
    const out = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) out[i] = pcm[i] / 32768;
    const src = ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(mic);
    Object.assign(state, { speechEnd: null, firstAudible: null, stopped: null, transcript: "", server: null, heardEnd: null });
    Object.assign(detail, { arrived: null, analysed: null, statsBefore: null, statsAfter: null });
    void receiverStats().then((s) => (detail.statsBefore = s));
    const lead = 0.05;
    src.start(ctx.currentTime + lead);
    state.speechEnd = performance.now() + (lead + endSecs) * 1000;
    return state.speechEnd;
  },
  /** Chrome's view of the bot's track so far (s): its jitter buffer's mean delay and
   * target, and the packets' interarrival jitter (RFC 3550); null before any. */
  async jitterBuffer() {
    if (!transport.pc) return null;
    for (const r of (await transport.pc.getStats()).values()) {
      if (r.type === "inbound-rtp" && r.kind === "audio" && r.jitterBufferEmittedCount)
        return {
          meanDelay: r.jitterBufferDelay / r.jitterBufferEmittedCount,
          meanTarget: (r.jitterBufferTargetDelay ?? 0) / r.jitterBufferEmittedCount,
          jitter: r.jitter,
          concealed: r.concealedSamples / Math.max(1, r.totalSamplesReceived),
        };
    }
    return null;
  },
  /** This turn's detail, times as wall-clock ms (the device's clock on this machine). */
  async detail() {
    detail.statsAfter = await receiverStats();
    const wall = (t) => (t === null ? null : performance.timeOrigin + t);
    return {
      speechEnd: wall(state.speechEnd), heardEnd: wall(state.heardEnd), audible: wall(state.firstAudible),
      arrived: wall(detail.arrived), analysed: wall(detail.analysed),
      outputLatency: ctx.outputLatency || ctx.baseLatency || 0,
      statsBefore: detail.statsBefore, statsAfter: detail.statsAfter,
    };
  },
  async disconnect() {
    await client.disconnect();
  },
};
