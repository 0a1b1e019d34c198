// A browser microphone and speaker for @pipecat-ai/websocket-transport that needs
// nothing from the internet: the transport's default (DailyMediaManager) loads
// Daily's call machine from a CDN, and the device must work on an offline LAN.
//
// Mic: getUserMedia (the browser's echo cancellation on, so the user can barge in
// over the bot's voice) → an AudioWorklet (ScriptProcessor where there is none) →
// 16 kHz s16le chunks of 512 bytes → the transport's user-audio callback.
// Speaker: the bot's 24 kHz s16le chunks scheduled back to back on Web Audio;
// flushed at once on barge-in.

import { DeviceError } from "@pipecat-ai/client-js";
import type { DeviceErrorType, PipecatClientOptions, RTVIEventCallbacks, Tracks } from "@pipecat-ai/client-js";
import type { WebSocketTransport } from "@pipecat-ai/websocket-transport";
import { level, pcmChunker, s16ToFloat } from "./pcm";

// The package does not export its MediaManager class; take its public shape.
export type MediaManager = NonNullable<NonNullable<ConstructorParameters<typeof WebSocketTransport>[0]>["mediaManager"]>;
type MediaManagerShape = Pick<MediaManager, keyof MediaManager>;

const RECORDER_RATE = 16000;
const CHUNK_SAMPLES = 256; // 512 bytes, 16 ms: what the official client sends
const PLAYER_RATE = 24000;
const LEAD_S = 0.03; // jitter margin before the first chunk of an utterance
const HOLD_MS = 400; // after a barge-in, drop in-flight bot audio until the server confirms

const WORKLET = `const pcmChunker = ${pcmChunker.toString()};
registerProcessor("rtvi-edge-capture", class extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions;
    this.push = pcmChunker(o.inRate, o.outRate, o.chunk, (c) => this.port.postMessage(c, [c.buffer]));
  }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.push(ch);
    return true;
  }
});`;

export class BrowserMediaManager implements MediaManagerShape {
  /** Called with the performance.now() time at which a new utterance of the bot becomes audible. */
  onPlaybackStart: ((audibleAt: number) => void) | null = null;
  /** Microphone level 0‥1, about 60 times a second while connected. */
  onLevel: ((value: number) => void) | null = null;
  /** Forces the ScriptProcessor path (the test page uses ?capture=script). */
  forceScriptProcessor = false;

  private userAudio: ((data: ArrayBuffer) => void) | null = null;
  private callbacks: RTVIEventCallbacks = {};
  private micEnabled = true;
  private micId: string | undefined;
  private ctx: AudioContext | null = null;
  private stream: MediaStream | null = null;
  private source: MediaStreamAudioSourceNode | null = null;
  private capture: AudioNode | null = null;
  private sink: GainNode | null = null;
  private playing = new Set<AudioBufferSourceNode>();
  private playhead = 0;
  private holdUntil = 0;

  // -- lifecycle (called by the transport) ------------------------------------
  setUserAudioCallback(cb: (data: ArrayBuffer) => void): void {
    this.userAudio = cb;
  }

  setClientOptions(options: PipecatClientOptions): void {
    this.callbacks = options.callbacks ?? {};
    this.micEnabled = options.enableMic ?? true;
  }

  /**
   * Creates (or resumes) the audio context. Call it from the click that connects:
   * Safari and phones only start audio inside a user gesture.
   */
  unlock(): void {
    if (!this.ctx || this.ctx.state === "closed") {
      this.ctx = new AudioContext({ latencyHint: "interactive" });
    }
    void this.ctx.resume();
  }

  async initialize(): Promise<void> {
    this.unlock();
    await this.openMic();
  }

  async connect(): Promise<void> {
    this.unlock();
    await this.openMic();
    await this.wireCapture();
  }

  async disconnect(): Promise<void> {
    this.flush();
    this.unwireCapture();
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    const ctx = this.ctx;
    this.ctx = null;
    await ctx?.close();
  }

  // -- microphone -------------------------------------------------------------
  /** Opens the mic once; without one (no permission, plain http from another machine) the page still works by text. */
  private async openMic(): Promise<void> {
    if (this.stream) return;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.deviceError("undefined-mediadevices", "this page is not a secure context (https:// or localhost)");
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          deviceId: this.micId ? { exact: this.micId } : undefined,
          channelCount: 1,
          echoCancellation: true,
          noiseSuppression: true,
          autoGainControl: true,
        },
      });
    } catch (err) {
      const e = err as DOMException;
      const kind: DeviceErrorType =
        e.name === "NotAllowedError" || e.name === "SecurityError" ? "permissions"
        : e.name === "NotFoundError" ? "not-found"
        : e.name === "NotReadableError" ? "in-use"
        : e.name === "OverconstrainedError" ? "constraints"
        : "unknown";
      this.deviceError(kind, `${e.name}: ${e.message}`);
      return;
    }
    const track = this.stream.getAudioTracks()[0];
    track.enabled = this.micEnabled;
    const settings = track.getSettings();
    this.callbacks.onMicUpdated?.({
      deviceId: settings.deviceId ?? "", groupId: settings.groupId ?? "",
      kind: "audioinput", label: track.label, toJSON: () => ({}),
    } as MediaDeviceInfo);
  }

  private deviceError(kind: DeviceErrorType, message: string): void {
    this.callbacks.onDeviceError?.(new DeviceError(["mic"], kind, message));
  }

  private async wireCapture(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx || !this.stream || this.capture) return;
    this.source = ctx.createMediaStreamSource(this.stream);
    const onChunk = (c: Int16Array) => this.sendChunk(c);
    if (ctx.audioWorklet && !this.forceScriptProcessor) {
      const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
      try {
        await ctx.audioWorklet.addModule(url);
      } finally {
        URL.revokeObjectURL(url);
      }
      const node = new AudioWorkletNode(ctx, "rtvi-edge-capture", {
        channelCount: 1, channelCountMode: "explicit", channelInterpretation: "speakers",
        processorOptions: { inRate: ctx.sampleRate, outRate: RECORDER_RATE, chunk: CHUNK_SAMPLES },
      });
      node.port.onmessage = (e: MessageEvent<Int16Array>) => onChunk(e.data);
      this.capture = node;
    } else {
      // Deprecated but everywhere (older Safari, insecure contexts have no audioWorklet).
      const node = ctx.createScriptProcessor(1024, 1, 1);
      const push = pcmChunker(ctx.sampleRate, RECORDER_RATE, CHUNK_SAMPLES, onChunk);
      node.onaudioprocess = (e) => push(e.inputBuffer.getChannelData(0));
      this.capture = node;
    }
    // The graph only runs when connected to the output: through a silent gain, so
    // the user does not hear themselves.
    this.sink = ctx.createGain();
    this.sink.gain.value = 0;
    this.source.connect(this.capture).connect(this.sink).connect(ctx.destination);
  }

  private unwireCapture(): void {
    this.source?.disconnect();
    this.capture?.disconnect();
    this.sink?.disconnect();
    if (this.capture instanceof AudioWorkletNode) this.capture.port.onmessage = null;
    this.source = this.capture = this.sink = null;
  }

  private sendChunk(chunk: Int16Array): void {
    // Muted: send silence rather than nothing, so the device's endpointing still
    // sees the end of an utterance that was cut by the mute button.
    if (!this.micEnabled) chunk.fill(0);
    this.onLevel?.(level(chunk));
    this.userAudio?.(chunk.buffer as ArrayBuffer);
  }

  enableMic(enable: boolean): void {
    this.micEnabled = enable;
    this.stream?.getAudioTracks().forEach((t) => (t.enabled = enable));
  }

  get isMicEnabled(): boolean {
    return this.micEnabled;
  }

  async updateMic(micId: string): Promise<void> {
    this.micId = micId || undefined;
    if (!this.stream) return;
    this.unwireCapture();
    this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    await this.openMic();
    await this.wireCapture();
  }

  get selectedMic(): MediaDeviceInfo | Record<string, never> {
    const s = this.stream?.getAudioTracks()[0]?.getSettings();
    return s?.deviceId ? ({ deviceId: s.deviceId, kind: "audioinput", label: "" } as MediaDeviceInfo) : {};
  }

  async getAllMics(): Promise<MediaDeviceInfo[]> {
    const all = (await navigator.mediaDevices?.enumerateDevices()) ?? [];
    return all.filter((d) => d.kind === "audioinput");
  }

  // -- speaker ----------------------------------------------------------------
  bufferBotAudio(data: ArrayBuffer | Int16Array): Int16Array {
    const pcm = data instanceof Int16Array ? data : new Int16Array(data);
    const ctx = this.ctx;
    if (!ctx || pcm.length === 0 || performance.now() < this.holdUntil) return pcm;
    const buffer = ctx.createBuffer(1, pcm.length, PLAYER_RATE); // Web Audio resamples
    s16ToFloat(pcm, buffer.getChannelData(0));
    const src = ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(ctx.destination);
    const now = ctx.currentTime;
    const starting = this.playing.size === 0;
    const at = this.playhead > now ? this.playhead : now + LEAD_S; // back to back, or restart after a gap
    src.start(at);
    this.playhead = at + buffer.duration;
    this.playing.add(src);
    src.onended = () => this.playing.delete(src);
    if (starting) {
      const latency = (ctx.outputLatency || ctx.baseLatency || 0) + (at - now);
      this.onPlaybackStart?.(performance.now() + latency * 1000);
    }
    return pcm;
  }

  /**
   * Stops the bot's voice now. `hold` (the user started speaking) also drops the
   * audio already on its way until release(): the device sends bot-interrupted
   * right after it stops, and that audio belongs to the interrupted answer.
   */
  flush(hold = false): void {
    for (const src of this.playing) {
      src.onended = null;
      try {
        src.stop();
      } catch {
        /* not started yet */
      }
    }
    this.playing.clear();
    this.playhead = 0;
    this.holdUntil = hold ? performance.now() + HOLD_MS : 0;
  }

  /** Accept bot audio again (bot-interrupted or a new bot-started-speaking). */
  release(): void {
    this.holdUntil = 0;
  }

  /** Seconds of bot audio scheduled but not yet played (for the page and its test). */
  get queuedSeconds(): number {
    return this.ctx && this.playing.size ? Math.max(0, this.playhead - this.ctx.currentTime) : 0;
  }

  async userStartedSpeaking(): Promise<unknown> {
    this.flush(true);
    return undefined;
  }

  // -- what a voice-only device does not have -----------------------------------
  async getAllCams(): Promise<MediaDeviceInfo[]> {
    return [];
  }
  async getAllSpeakers(): Promise<MediaDeviceInfo[]> {
    return [];
  }
  updateCam(): void {}
  updateSpeaker(): void {}
  get selectedCam(): Record<string, never> {
    return {};
  }
  get selectedSpeaker(): Record<string, never> {
    return {};
  }
  enableCam(): void {}
  enableScreenShare(): void {}
  get isCamEnabled(): boolean {
    return false;
  }
  get isSharingScreen(): boolean {
    return false;
  }
  get supportsScreenShare(): boolean {
    return false;
  }
  tracks(): Tracks {
    const audio = this.stream?.getAudioTracks()[0];
    return { local: audio ? { audio } : {} };
  }
}
