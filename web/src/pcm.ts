// Microphone samples → what the device expects: 16 kHz mono s16le in 512-byte chunks.

/**
 * Returns a function that takes float samples at `inRate` and calls `emit` with
 * Int16Array chunks of `chunk` samples at `outRate`.
 *
 * Decimation by averaging each output period (a box filter: cheap, and enough
 * anti-aliasing for speech recognition); works for any ratio ≥ 1, 44.1 kHz too.
 *
 * It must stay self-contained (no outer names, no class fields): its source text
 * is also the AudioWorklet's (see media.ts), which runs in another global scope.
 */
export function pcmChunker(
  inRate: number,
  outRate: number,
  chunk: number,
  emit: (samples: Int16Array) => void,
): (input: Float32Array) => void {
  const step = inRate / outRate;
  let phase = 0;
  let sum = 0;
  let count = 0;
  let out = new Int16Array(chunk);
  let fill = 0;
  return function push(input: Float32Array): void {
    for (let i = 0; i < input.length; i++) {
      sum += input[i];
      count++;
      phase += 1;
      if (phase < step) continue;
      phase -= step;
      const v = sum / count;
      sum = 0;
      count = 0;
      out[fill++] = (v >= 1 ? 1 : v <= -1 ? -1 : v) * 32767;
      if (fill === chunk) {
        emit(out);
        out = new Int16Array(chunk); // the old one may have been transferred
        fill = 0;
      }
    }
  };
}

/** Float32 [-1, 1] samples from s16le PCM (the bot's audio). */
export function s16ToFloat(pcm: Int16Array, into: Float32Array): void {
  for (let i = 0; i < pcm.length; i++) into[i] = pcm[i] / 32768;
}

/** Loudness 0‥1 of a chunk, for the level meter (RMS, scaled so speech fills it). */
export function level(pcm: Int16Array): number {
  let acc = 0;
  for (let i = 0; i < pcm.length; i++) acc += pcm[i] * pcm[i];
  return Math.min(1, (Math.sqrt(acc / Math.max(1, pcm.length)) / 32768) * 4);
}
