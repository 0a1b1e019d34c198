// Per-turn latency: a small SVG chart and a table of the last turns.

const STAGES = [["stt", "#7aa2f7"], ["llm", "#9ece6a"], ["tts", "#e0af68"]];

export class Metrics {
  constructor(chart, table) {
    this.chart = chart;
    this.table = table;
    this.turns = [];
    this.pendingClient = null;
  }

  add(m) {
    const voice = m.processing?.find((p) => p.processor === "voice_to_voice")?.value;
    const ttfb = Object.fromEntries((m.ttfb ?? []).map((t) => [t.processor, t.value]));
    if (voice === undefined && !Object.keys(ttfb).length) return;
    this.turns.push({ voice, ...ttfb, client: this.pendingClient });
    this.pendingClient = null;
    this.turns = this.turns.slice(-30);
    this.render();
  }

  clientLatency(ms) { this.pendingClient = ms / 1000; }

  render() {
    const w = 320, h = 120, pad = 22;
    const max = Math.max(1, ...this.turns.map((t) => t.voice ?? 0)) * 1.1;
    const step = (w - pad) / Math.max(1, this.turns.length);
    const y = (v) => h - pad - (v / max) * (h - 2 * pad);
    let bars = "";
    this.turns.forEach((t, i) => {
      let base = 0;
      for (const [stage, color] of STAGES) {
        const v = t[stage] ?? 0;
        bars += `<rect x="${pad + i * step + 1}" y="${y(base + v)}" width="${Math.max(2, step - 3)}" height="${y(base) - y(base + v)}" fill="${color}" opacity="0.7"/>`;
        base += v;
      }
    });
    const pts = this.turns.map((t, i) => t.voice === undefined ? null
      : `${pad + i * step + step / 2},${y(t.voice)}`).filter(Boolean).join(" ");
    this.chart.innerHTML = `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="latency per turn">
      <line x1="${pad}" y1="${h - pad}" x2="${w}" y2="${h - pad}" stroke="#666"/>
      <text x="2" y="${y(max / 1.1) + 4}" font-size="9" fill="#999">${Math.round(max / 1.1 * 1000)}ms</text>
      ${bars}<polyline points="${pts}" fill="none" stroke="#f7768e" stroke-width="2"/>
      ${this.turns.map((t, i) => t.voice === undefined ? "" : `<circle class="point" cx="${pad + i * step + step / 2}" cy="${y(t.voice)}" r="3" fill="#f7768e"/>`).join("")}
    </svg>`;
    const ms = (v) => (v === undefined || v === null ? "–" : `${Math.round(v * 1000)}`);
    this.table.innerHTML = `<tr><th>turn</th><th>voice→voice</th><th>after turn end</th><th>stt</th><th>llm</th><th>tts</th></tr>` +
      this.turns.slice(-8).reverse().map((t, i) => `<tr><td>${this.turns.length - i}</td><td>${ms(t.voice)}</td><td>${ms(t.client)}</td><td>${ms(t.stt)}</td><td>${ms(t.llm)}</td><td>${ms(t.tts)}</td></tr>`).join("");
  }
}
