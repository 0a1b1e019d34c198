// Per-turn latency: an inline SVG chart and a table of the last turns.
// From the device's `metrics`: voice_to_voice (end of speech → first audio) and
// the stages' time to first byte. From this page: user-stopped-speaking → the
// first bot audio playing here, which adds the network and this browser's
// output buffer and leaves out the device's endpointing wait.
import type { PipecatMetricsData } from "@pipecat-ai/client-js";

interface Turn {
  n: number;
  v2v?: number;
  heard?: number;
  stt?: number;
  llm?: number;
  tts?: number;
}

const SERIES = [
  ["v2v", "#f7768e"],
  ["heard", "#bb9af7"],
] as const;
const STAGES = [
  ["stt", "#7aa2f7"],
  ["llm", "#9ece6a"],
  ["tts", "#e0af68"],
] as const;
const SHOWN = 20; // turns on the chart, at most
const SLOTS = 8; // room for at least this many, so that the first turns do not fill it
const ROWS = 6; // turns in the table

export class LatencyView {
  private turns: Turn[] = [];
  private count = 0;
  private heard: number | undefined;

  constructor(
    private readonly chart: HTMLElement,
    private readonly table: HTMLElement,
  ) {
    this.render();
  }

  /** This page measured the current turn (seconds); the device's metrics come at its end. */
  measuredHere(seconds: number | undefined): void {
    this.heard = seconds;
  }

  add(m: PipecatMetricsData): void {
    const find = (items: { processor: string; value: number }[] | undefined, name: string) =>
      items?.find((i) => i.processor === name)?.value;
    const turn: Turn = {
      n: this.count + 1,
      v2v: find(m.processing, "voice_to_voice"),
      stt: find(m.ttfb, "stt"),
      llm: find(m.ttfb, "llm"),
      tts: find(m.ttfb, "tts"),
    };
    if (turn.v2v === undefined && turn.llm === undefined && turn.tts === undefined) return;
    turn.heard = this.heard;
    this.heard = undefined;
    this.count++;
    this.turns = [...this.turns, turn].slice(-SHOWN);
    this.render();
  }

  private render(): void {
    this.chart.innerHTML = this.svg();
    const ms = (v?: number) => (v === undefined ? "–" : String(Math.round(v * 1000)));
    this.table.innerHTML = this.turns
      .slice(-ROWS)
      .reverse()
      .map((t) => `<tr><td>${t.n}</td><td>${ms(t.v2v)}</td><td>${ms(t.heard)}</td>` +
        `<td>${ms(t.stt)}</td><td>${ms(t.llm)}</td><td>${ms(t.tts)}</td></tr>`)
      .join("");
  }

  private svg(): string {
    const w = 320, h = 140, left = 34, bottom = 16, top = 8;
    const values = this.turns.flatMap((t) => [t.v2v, t.heard, t.stt, t.llm, t.tts]);
    const [max, step] = scale(Math.max(0.5, ...values.filter((v): v is number => v !== undefined)));
    const y = (v: number) => top + (h - top - bottom) * (1 - v / max);
    const slot = (w - left) / Math.max(SLOTS, this.turns.length);
    const x = (i: number) => left + slot * (i + 0.5);
    const parts: string[] = [];
    for (let g = 0; g <= max + 1e-9; g += step) {
      parts.push(`<line class="grid" x1="${left}" x2="${w}" y1="${y(g)}" y2="${y(g)}"/>` +
        `<text x="${left - 4}" y="${y(g) + 3}" text-anchor="end">${fmt(g)}</text>`);
    }
    this.turns.forEach((t, i) => {
      const bw = Math.max(1.5, (slot * 0.6) / STAGES.length);
      STAGES.forEach(([key, color], k) => {
        const v = t[key];
        if (v === undefined) return;
        const bx = x(i) - (bw * STAGES.length) / 2 + k * bw;
        parts.push(`<rect class="stage ${key}" x="${bx}" y="${y(v)}" width="${bw}" height="${y(0) - y(v)}" ` +
          `fill="${color}"><title>turn ${t.n} ${key} ${fmt(v)}</title></rect>`);
      });
    });
    for (const [key, color] of SERIES) {
      const pts = this.turns.flatMap((t, i) => (t[key] === undefined ? [] : [[x(i), y(t[key]!), t] as const]));
      if (pts.length > 1) {
        parts.push(`<polyline class="${key}" points="${pts.map(([px, py]) => `${px},${py}`).join(" ")}" ` +
          `fill="none" stroke="${color}" stroke-width="2"${key === "heard" ? ' stroke-dasharray="4 3"' : ""}/>`);
      }
      for (const [px, py, t] of pts) {
        parts.push(`<circle class="point ${key}" cx="${px}" cy="${py}" r="3.5" fill="${color}">` +
          `<title>turn ${t.n}: ${fmt(t[key]!)}</title></circle>`);
      }
    }
    if (!this.turns.length) {
      parts.push(`<text class="empty" x="${(w + left) / 2}" y="${h / 2}" text-anchor="middle">no turns yet</text>`);
    }
    return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="latency per turn">${parts.join("")}</svg>`;
  }
}

/** The top of the y axis and its gridline step, both round numbers of seconds. */
function scale(v: number): [number, number] {
  const step = [0.1, 0.25, 0.5, 1, 2, 5, 10].find((s) => (v * 1.1) / s <= 5) ?? 20;
  return [Math.ceil((v * 1.1) / step) * step, step];
}

function fmt(seconds: number): string {
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
}
