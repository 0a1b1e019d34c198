// The microphone and speaker for @pipecat-ai/small-webrtc-transport, with nothing from
// the internet (its default media manager is Daily's, which loads from a CDN).
//
// Mic: one getUserMedia track with the browser's echo cancellation, noise suppression
// and auto gain; the transport sends it as Opus. Speaker: the bot's remote track in an
// <audio> element (WebRTC's jitter buffer does the pacing); an analyser on it tells the
// page when the bot becomes audible. Nothing to flush on barge-in: the device stops
// sending, and what is in flight is a few tens of milliseconds.

import { DeviceError } from "@pipecat-ai/client-js";
import type { DeviceErrorType, PipecatClientOptions, RTVIEventCallbacks, Tracks } from "@pipecat-ai/client-js";
import type { SmallWebRTCTransport } from "@pipecat-ai/small-webrtc-transport";

export type RtcMediaManager = NonNullable<NonNullable<ConstructorParameters<typeof SmallWebRTCTransport>[0]>["mediaManager"]>;
type Shape = Pick<RtcMediaManager, keyof RtcMediaManager>;

const AUDIBLE = 0.01; // RMS above which the bot's track is sound, not silence

export class WebRtcMedia implements Shape {
  onPlaybackStart: ((audibleAt: number) => void) | null = null;
  onLevel: ((value: number) => void) | null = null;
  private callbacks: RTVIEventCallbacks = {};
  private micEnabled = true;
  private micId: string | undefined;
  private stream: MediaStream | null = null;
  private ctx: AudioContext | null = null;
  private player: HTMLAudioElement | null = null;
  private meters: number | null = null;
  private botAudible = false;

  setUserAudioCallback(): void {} // audio goes as a track, not as chunks
  setClientOptions(options: PipecatClientOptions): void {
    this.callbacks = options.callbacks ?? {};
    this.micEnabled = options.enableMic ?? true;
  }

  /** Call it from the click that connects: phones only start audio inside a user gesture. */
  unlock(): void {
    if (!this.ctx || this.ctx.state === "closed") this.ctx = new AudioContext({ latencyHint: "interactive" });
    void this.ctx.resume();
    if (!this.player) {
      this.player = new Audio();
      this.player.autoplay = true;
    }
  }

  async initialize(): Promise<void> {
    this.unlock();
    await this.openMic();
  }

  async connect(): Promise<void> {
    this.unlock();
    await this.openMic();
  }

  async disconnect(): Promise<void> {
    if (this.meters !== null) clearInterval(this.meters);
    this.meters = null;
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    if (this.player) this.player.srcObject = null;
    const ctx = this.ctx;
    this.ctx = null;
    await ctx?.close();
  }

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
    this.startMeters();
  }

  private deviceError(kind: DeviceErrorType, message: string): void {
    this.callbacks.onDeviceError?.(new DeviceError(["mic"], kind, message));
  }

  // -- levels: the mic bar, and when the bot becomes audible ---------------------------
  private micAnalyser: AnalyserNode | null = null;
  private botAnalyser: AnalyserNode | null = null;

  private analyser(stream: MediaStream): AnalyserNode | null {
    if (!this.ctx) return null;
    const node = this.ctx.createAnalyser();
    node.fftSize = 512;
    this.ctx.createMediaStreamSource(stream).connect(node); // not to the output: no echo
    return node;
  }

  private startMeters(): void {
    if (this.stream) this.micAnalyser = this.analyser(this.stream);
    if (this.meters !== null) return;
    const samples = new Float32Array(512);
    const rms = (node: AnalyserNode | null): number => {
      if (!node) return 0;
      node.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const v of samples) sum += v * v;
      return Math.sqrt(sum / samples.length);
    };
    this.meters = window.setInterval(() => {
      const mic = this.micEnabled ? rms(this.micAnalyser) : 0;
      this.onLevel?.(Math.min(1, mic * 4)); // as pcm.ts level() scales it
      const bot = rms(this.botAnalyser);
      if (bot > AUDIBLE && !this.botAudible) this.onPlaybackStart?.(performance.now());
      this.botAudible = bot > AUDIBLE;
    }, 16);
  }

  /** The bot's track (the client's onTrackStarted): played, and watched for sound. */
  playRemote(track: MediaStreamTrack): void {
    if (track.kind !== "audio") return;
    this.unlock();
    const stream = new MediaStream([track]);
    if (this.player) {
      this.player.srcObject = stream;
      void this.player.play().catch(() => undefined);
    }
    this.botAnalyser = this.analyser(stream);
    this.startMeters();
  }

  // -- what the page calls on barge-in (the WebSocket media needs them) ---------------
  flush(_hold = false): void {}
  release(): void {}
  get queuedSeconds(): number {
    return 0;
  }

  // -- the rest of the MediaManager shape ------------------------------------------------
  enableMic(enable: boolean): void {
    this.micEnabled = enable;
    this.stream?.getAudioTracks().forEach((t) => (t.enabled = enable));
  }
  get isMicEnabled(): boolean {
    return this.micEnabled;
  }
  async updateMic(micId: string): Promise<void> {
    this.micId = micId || undefined;
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    await this.openMic();
  }
  get selectedMic(): MediaDeviceInfo | Record<string, never> {
    const s = this.stream?.getAudioTracks()[0]?.getSettings();
    return s?.deviceId ? ({ deviceId: s.deviceId, kind: "audioinput", label: "" } as MediaDeviceInfo) : {};
  }
  async getAllMics(): Promise<MediaDeviceInfo[]> {
    const all = (await navigator.mediaDevices?.enumerateDevices()) ?? [];
    return all.filter((d) => d.kind === "audioinput");
  }
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
  async userStartedSpeaking(): Promise<unknown> {
    return undefined;
  }
  bufferBotAudio(data: ArrayBuffer | Int16Array): Int16Array {
    return data instanceof Int16Array ? data : new Int16Array(data);
  }
  tracks(): Tracks {
    const audio = this.stream?.getAudioTracks()[0];
    return { local: audio ? { audio } : {} };
  }
}
