// A browser microphone and speaker for @pipecat-ai/websocket-transport that needs
// nothing from the internet (the default media manager loads a helper from a CDN).
// Mic: getUserMedia (with the browser's echo cancellation) → an AudioWorklet →
// 16 kHz s16le chunks of 512 bytes. Speaker: the bot's 24 kHz s16le audio scheduled
// gaplessly on Web Audio, flushed at once when the user barges in.

const WORKLET = `
class PcmCapture extends AudioWorkletProcessor {
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.port.postMessage(ch.slice(0));
    return true;
  }
}
registerProcessor("pcm-capture", PcmCapture);
`;

export class BrowserMediaManager {
  constructor({ recorderRate = 16000, playerRate = 24000, chunkBytes = 512 } = {}) {
    this.recorderRate = recorderRate;
    this.playerRate = playerRate;
    this.chunkSamples = chunkBytes / 2;
    this._cb = null;
    this._micEnabled = true;
    this._pending = new Int16Array(0);
    this._carry = 0; // resampling phase
    this._sources = new Set();
    this._playhead = 0;
    this.onFirstAudio = null; // set by the page to time the first bot audio
    this.onLevel = null;
  }
  setUserAudioCallback(cb) { this._cb = cb; }
  setClientOptions(options) { this._options = options; }
  async initialize() {}

  async connect() {
    this.ctx = new AudioContext({ latencyHint: "interactive" });
    if (this.ctx.state === "suspended") await this.ctx.resume();
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true,
               autoGainControl: true },
    });
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "application/javascript" }));
    await this.ctx.audioWorklet.addModule(url);
    this.node = new AudioWorkletNode(this.ctx, "pcm-capture");
    this.node.port.onmessage = (e) => this._capture(e.data);
    this.source = this.ctx.createMediaStreamSource(this.stream);
    const sink = this.ctx.createGain();
    sink.gain.value = 0; // pulls the worklet without playing the mic back
    this.source.connect(this.node).connect(sink).connect(this.ctx.destination);
  }

  async disconnect() {
    this.flush();
    this.stream?.getTracks().forEach((t) => t.stop());
    await this.ctx?.close();
    this.ctx = null;
  }

  _capture(f32) {
    // Downsample the device rate (usually 48 kHz) to 16 kHz by averaging, then s16.
    const ratio = this.ctx.sampleRate / this.recorderRate;
    const out = [];
    let pos = this._carry;
    while (pos + ratio <= f32.length) {
      let sum = 0;
      const start = Math.floor(pos), end = Math.floor(pos + ratio);
      for (let i = start; i < end; i++) sum += f32[i];
      out.push(Math.max(-1, Math.min(1, sum / Math.max(1, end - start))));
      pos += ratio;
    }
    this._carry = pos - f32.length;
    const s16 = Int16Array.from(out, (v) => v * 32767);
    const joined = new Int16Array(this._pending.length + s16.length);
    joined.set(this._pending);
    joined.set(s16, this._pending.length);
    let off = 0;
    while (joined.length - off >= this.chunkSamples) {
      const chunk = joined.slice(off, off + this.chunkSamples);
      off += this.chunkSamples;
      if (this._cb && this._micEnabled) this._cb(chunk.buffer);
    }
    this._pending = joined.slice(off);
    if (this.onLevel) {
      let peak = 0;
      for (const v of f32) peak = Math.max(peak, Math.abs(v));
      this.onLevel(this._micEnabled ? peak : 0);
    }
  }

  bufferBotAudio(data) {
    const s16 = data instanceof Int16Array ? data : new Int16Array(data);
    if (!this.ctx || s16.length === 0) return s16;
    const buf = this.ctx.createBuffer(1, s16.length, this.playerRate);
    const ch = buf.getChannelData(0);
    for (let i = 0; i < s16.length; i++) ch[i] = s16[i] / 32768;
    const src = this.ctx.createBufferSource();
    src.buffer = buf;
    src.connect(this.ctx.destination);
    const start = Math.max(this.ctx.currentTime + 0.02, this._playhead);
    src.start(start);
    if (this._sources.size === 0 && this.onFirstAudio) this.onFirstAudio();
    this._playhead = start + buf.duration;
    this._sources.add(src);
    src.onended = () => this._sources.delete(src);
    return s16;
  }

  /** Stop the bot's voice now (barge-in): the server paces audio, so little is queued. */
  flush() {
    for (const src of this._sources) { try { src.stop(); } catch { /* already done */ } }
    this._sources.clear();
    this._playhead = 0;
  }

  async userStartedSpeaking() { this.flush(); }
  async getAllMics() { return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput"); }
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
  tracks() { return { local: { audio: this.stream?.getAudioTracks()[0] } }; }
}
