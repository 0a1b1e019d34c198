// The settings form and the action buttons, generated from what the device
// describes (describe-config, describe-actions), so they follow its services.

export interface OptionInfo {
  name: string;
  type: string;
  scope?: string;
  description?: string;
}
export interface ServiceInfo {
  name: string;
  options: OptionInfo[];
}
export type ConfigValues = { service: string; options: { name: string; value: unknown }[] }[];
export interface ActionInfo {
  service: string;
  action: string;
  arguments: { name: string; type: string; required?: boolean }[];
  description?: string;
}
/** sendClientRequest, rejecting with an Error whose message is already in plain words. */
export type Request = (t: string, d?: unknown, timeoutMs?: number) => Promise<any>;

type Input = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

interface Field {
  service: string;
  option: OptionInfo;
  input: Input;
  initial: string;
}

export class SettingsForm {
  private described: ServiceInfo[] = [];
  private fields: Field[] = [];

  constructor(
    private readonly form: HTMLFormElement,
    private readonly status: HTMLElement,
    private readonly request: Request,
  ) {
    form.onsubmit = (e) => {
      e.preventDefault();
      void this.apply();
    };
  }

  async load(): Promise<void> {
    const [described, current] = await Promise.all([
      this.request("describe-config"),
      this.request("get-config"),
    ]);
    this.described = described.config;
    this.render(current.config);
  }

  reset(): void {
    this.form.innerHTML = `<p class="hint">Connect to see the device's settings.</p>`;
    this.fields = [];
    this.say("");
  }

  private render(values: ConfigValues): void {
    const value = (service: string, name: string): unknown => {
      const [top, sub] = name.split(".", 2);
      const v = values.find((s) => s.service === service)?.options.find((o) => o.name === top)?.value;
      return sub === undefined ? v : (v as Record<string, unknown> | undefined)?.[sub];
    };
    this.form.replaceChildren();
    this.fields = [];
    for (const svc of this.described) {
      const box = el("fieldset", "", el("legend", svc.name));
      const names = new Set(svc.options.map((o) => o.name));
      for (const option of svc.options) {
        // An object whose keys are also offered one by one (vad.params and
        // vad.params.stop_secs…): show the simple inputs, not the JSON.
        if (option.type === "object" && [...names].some((n) => n.startsWith(`${option.name}.`))) continue;
        const input = inputFor(option.type, value(svc.name, option.name));
        input.name = `${svc.name}.${option.name}`;
        const name = el("span", option.name);
        if (option.scope === "device") {
          const badge = el("em", "device");
          badge.title = "changes the device for everyone, and is saved";
          name.append(badge);
        }
        const label = el("label", "", name, input, el("small", option.description ?? ""));
        box.append(label);
        this.fields.push({ service: svc.name, option, input, initial: read(option.type, input, "") });
      }
      this.form.append(box);
    }
    this.form.append(el("button", "Apply"));
  }

  private async apply(): Promise<void> {
    const config: ConfigValues = [];
    const changed: string[] = [];
    try {
      for (const f of this.fields) {
        const now = read(f.option.type, f.input, f.input.name);
        if (now === f.initial) continue;
        let svc = config.find((c) => c.service === f.service);
        if (!svc) config.push((svc = { service: f.service, options: [] }));
        svc.options.push({ name: f.option.name, value: JSON.parse(now) });
        changed.push(f.input.name);
      }
    } catch (err) {
      return this.say((err as Error).message, "error");
    }
    if (!config.length) return this.say("Nothing changed.");
    this.say("Applying…");
    try {
      const reply = await this.request("update-config", { config, interrupt: false }, 60000);
      this.render(reply.config);
      this.say(`Applied: ${changed.join(", ")}.`, "ok");
    } catch (err) {
      this.say((err as Error).message, "error"); // the device's own words: which option, why
    }
  }

  private say(text: string, kind = ""): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }
}

export function renderActions(root: HTMLElement, actions: ActionInfo[], request: Request): void {
  root.replaceChildren();
  for (const a of actions) {
    const form = el("form", "", el("b", `${a.service}:${a.action}`), el("small", a.description ?? ""));
    form.className = "action";
    const inputs = a.arguments.map((arg) => {
      const input = inputFor(arg.type, undefined, !arg.required);
      input.name = arg.name;
      input.setAttribute("aria-label", arg.name);
      if (input instanceof HTMLSelectElement || (input instanceof HTMLInputElement && input.type === "checkbox")) {
        form.append(el("label", `${arg.name} `, input)); // no placeholder: name it beside
      } else {
        input.placeholder = arg.required ? arg.name : `${arg.name} (optional)`;
        form.append(input);
      }
      return { arg, input };
    });
    const out = el("output", "");
    form.append(el("button", "Run"), out);
    form.onsubmit = async (e) => {
      e.preventDefault();
      const args: { name: string; value: unknown }[] = [];
      try {
        for (const { arg, input } of inputs) {
          const text = read(arg.type, input, arg.name);
          if (text !== "") args.push({ name: arg.name, value: JSON.parse(text) });
        }
      } catch (err) {
        return show(out, (err as Error).message, "error");
      }
      show(out, "…");
      try {
        const reply = await request("action", { service: a.service, action: a.action, arguments: args }, 60000);
        const result = reply?.result;
        show(out, result === true ? "done" : JSON.stringify(result, null, 1).slice(0, 2000), "ok");
      } catch (err) {
        show(out, (err as Error).message, "error");
      }
    };
    root.append(form);
  }
}

// -- inputs per RTVI option type ------------------------------------------------

function inputFor(type: string, value: unknown, optional = false): Input {
  if (type === "array" || type === "object") {
    const t = document.createElement("textarea");
    t.value = value === undefined ? "" : JSON.stringify(value, null, 1);
    t.rows = Math.min(6, Math.max(2, t.value.split("\n").length));
    t.spellcheck = false;
    return t;
  }
  if (type === "bool" && optional) {
    // an optional flag: unset (the device's default), true or false
    const select = el("select", "", el("option", "default"), el("option", "true"), el("option", "false"));
    (select.firstElementChild as HTMLOptionElement).value = "";
    select.value = value === undefined ? "" : String(value);
    return select;
  }
  const input = document.createElement("input");
  if (type === "bool") {
    input.type = "checkbox";
    input.checked = value === true;
  } else if (type === "number" || type === "integer") {
    input.type = "number";
    input.step = type === "integer" ? "1" : "any";
    input.inputMode = "decimal";
    input.value = value === undefined || value === null ? "" : String(value);
  } else {
    input.value = value === undefined || value === null ? "" : String(value);
  }
  return input;
}

/** The input's value as JSON text ("" when an optional field is left empty); throws a readable error. */
function read(type: string, input: Input, label: string): string {
  const raw = input.value.trim();
  if (input instanceof HTMLInputElement && input.type === "checkbox") return JSON.stringify(input.checked);
  if (raw === "" && type !== "string") return "";
  if (type === "bool") {
    if (raw !== "true" && raw !== "false") throw new Error(`${label}: true or false`);
    return raw;
  }
  if (type === "number" || type === "integer") {
    const n = Number(raw);
    if (!Number.isFinite(n) || (type === "integer" && !Number.isInteger(n))) {
      throw new Error(`${label}: enter ${type === "integer" ? "a whole number" : "a number"}`);
    }
    return JSON.stringify(n);
  }
  if (type === "array" || type === "object") {
    try {
      return JSON.stringify(JSON.parse(raw));
    } catch {
      throw new Error(`${label}: not valid JSON`);
    }
  }
  return JSON.stringify(input.value);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", ...children: Node[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.textContent = text;
  node.append(...children);
  return node;
}

function show(out: HTMLElement, text: string, kind = ""): void {
  out.textContent = text;
  out.dataset.kind = kind;
}
