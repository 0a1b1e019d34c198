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
const kind = new URLSearchParams(location.search).get("transport") ?? "webrtc";
const media = kind === "websocket" ? new BrowserMediaManager() : new WebRtcMedia();
media.onPlaybackStart = (at) => {
  if (state.speechEnd !== null && state.firstAudible === null && at > state.speechEnd) state.firstAudible = at;
};
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
  async disconnect() {
    await client.disconnect();
  },
};
