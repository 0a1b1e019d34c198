// The live conversation: the user's words (interim in grey, then final) and the
// bot's, sentence by sentence as they are spoken, marked where the user cut in.
import type { BotOutputData } from "@pipecat-ai/client-js";

export class ConversationView {
  private userLine: HTMLElement | null = null;
  private botLine: HTMLElement | null = null;
  private lastBot: HTMLElement | null = null; // the answer just finished, if a late bot-interrupted comes
  private typed: HTMLElement | null = null; // the device echoes typed text as a final transcript
  private sawBotOutput = false; // until the device sends bot-output, bot-tts-text stands in

  constructor(private readonly root: HTMLElement) {}

  userTranscript(text: string, final: boolean): void {
    if (!text.trim() && !final) return;
    if (final && this.typed?.textContent === text.trim()) {
      this.typed = null;
      return;
    }
    const line = this.userLine ?? this.line("user");
    this.follow(() => {
      line.textContent = text;
      line.classList.toggle("interim", !final);
    });
    this.userLine = final ? null : line;
    if (final) this.botLine = this.lastBot = null; // the answer to this starts a new line
  }

  userTyped(text: string): void {
    this.typed = this.line("user typed");
    this.typed.textContent = text.trim();
    this.userLine = this.botLine = this.lastBot = null;
  }

  botOutput(o: BotOutputData): void {
    if (!this.sawBotOutput) {
      this.sawBotOutput = true;
      // The first sentence may already be shown from its bot-tts-text (sent just before).
      const early = this.botLine?.querySelector<HTMLElement>(".seg.tts:last-child");
      if (early && early.textContent?.trim() === o.text.trim() && !o.spoken) {
        early.classList.remove("tts");
        return;
      }
    }
    if (o.spoken_status !== undefined) {
      // protocol 2.x: one segment by id, "new" → "in-progress" → "completed"
      const seg = this.segment(o.text, o.segment_id);
      if (o.spoken_status === "completed") seg.classList.add("heard");
    } else if (o.spoken === true) {
      this.markHeard(o.text); // 1.x: sent again once played
    } else {
      this.segment(o.text); // 1.x: sent when its audio starts (or, text-only, as it comes)
    }
  }

  botTtsText(text: string): void {
    if (!this.sawBotOutput) this.segment(text).classList.add("tts");
  }

  /** The user cut in: mark the line, and strike what was not heard. */
  botInterrupted(): void {
    const line = this.botLine ?? this.lastBot;
    this.botLine = this.lastBot = null;
    if (!line) return;
    line.classList.add("interrupted");
    line.querySelectorAll(".seg:not(.heard)").forEach((s) => s.classList.add("unheard"));
  }

  botDone(): void {
    this.lastBot = this.botLine;
    this.botLine = null;
  }

  note(text: string): void {
    this.line("note").textContent = text;
    this.userLine = this.botLine = this.lastBot = null;
  }

  private segment(text: string, id?: number): HTMLElement {
    this.botLine ??= this.line("bot");
    if (id !== undefined) {
      const known = this.botLine.querySelector<HTMLElement>(`.seg[data-id="${id}"]`);
      if (known) return known;
    }
    const seg = document.createElement("span");
    seg.className = "seg";
    seg.textContent = (this.botLine.childElementCount ? " " : "") + text.trim();
    if (id !== undefined) seg.dataset.id = String(id);
    const line = this.botLine;
    this.follow(() => line.append(seg));
    return seg;
  }

  private markHeard(text: string): void {
    const segs = this.botLine?.querySelectorAll<HTMLElement>(".seg:not(.heard)") ?? [];
    for (const seg of segs) {
      if (seg.textContent?.trim() === text.trim()) {
        seg.classList.add("heard");
        return;
      }
    }
  }

  private line(kind: string): HTMLElement {
    this.root.querySelector(".hint")?.remove();
    const div = document.createElement("div");
    div.className = `line ${kind}`;
    this.follow(() => this.root.append(div));
    return div;
  }

  /** Keeps the newest line in view, unless the user scrolled up to read. */
  private follow(change: () => void): void {
    const r = this.root;
    const atBottom = r.scrollHeight - r.scrollTop - r.clientHeight < 40;
    change();
    if (atBottom) r.scrollTop = r.scrollHeight;
  }
}
