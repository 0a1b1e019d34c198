// The settings panel and the actions, generated from describe-config / describe-actions.

function input(type, value) {
  if (type === "bool") {
    const el = document.createElement("input");
    el.type = "checkbox";
    el.checked = Boolean(value);
    return el;
  }
  if (type === "array" || type === "object") {
    const el = document.createElement("textarea");
    el.rows = 2;
    el.value = value === undefined ? "" : JSON.stringify(value);
    return el;
  }
  const el = document.createElement("input");
  el.type = type === "number" || type === "integer" ? "number" : "text";
  if (el.type === "number") el.step = "any";
  el.value = value ?? "";
  return el;
}

function read(type, el) {
  if (type === "bool") return el.checked;
  if (type === "number" || type === "integer") return Number(el.value);
  if (type === "array" || type === "object") return JSON.parse(el.value);
  return el.value;
}

export function renderSettings(root, described, current, apply) {
  root.replaceChildren();
  const values = {};
  for (const svc of current) for (const o of svc.options) values[`${svc.service}.${o.name}`] = o.value;
  const fields = [];
  for (const svc of described) {
    const box = document.createElement("fieldset");
    box.innerHTML = `<legend>${svc.name}</legend>`;
    for (const opt of svc.options) {
      if (opt.name.includes(".")) continue; // dotted aliases of "params"
      const key = `${svc.name}.${opt.name}`;
      const label = document.createElement("label");
      label.title = `${opt.description ?? ""} (${opt.scope}: ${opt.scope === "device" ? "all clients, saved" : "this session"})`;
      label.innerHTML = `<span>${opt.name}<small>${opt.scope}</small></span>`;
      const el = input(opt.type, values[key]);
      el.dataset.initial = JSON.stringify(values[key]);
      label.append(el);
      box.append(label);
      fields.push({ service: svc.name, opt, el });
    }
    root.append(box);
  }
  const status = document.createElement("p");
  status.className = "status";
  const button = document.createElement("button");
  button.textContent = "Apply";
  button.onclick = async () => {
    const config = [];
    try {
      for (const { service, opt, el } of fields) {
        const value = read(opt.type, el);
        if (JSON.stringify(value) === el.dataset.initial) continue;
        let svc = config.find((c) => c.service === service);
        if (!svc) config.push((svc = { service, options: [] }));
        svc.options.push({ name: opt.name, value });
      }
    } catch (err) {
      status.textContent = `Not valid JSON: ${err.message}`;
      status.dataset.kind = "error";
      return;
    }
    if (!config.length) { status.textContent = "Nothing changed."; return; }
    const res = await apply(config);
    status.textContent = res.ok ? "Applied." : res.error;
    status.dataset.kind = res.ok ? "ok" : "error";
    if (res.ok) renderSettings(root, described, res.config, apply);
  };
  root.append(button, status);
}

export function renderActions(root, actions, run) {
  root.replaceChildren();
  for (const a of actions) {
    const form = document.createElement("form");
    form.className = "action";
    form.innerHTML = `<b>${a.service}:${a.action}</b> <small>${a.description ?? ""}</small>`;
    const inputs = a.arguments.map((arg) => {
      const el = input(arg.type, undefined);
      el.placeholder = `${arg.name}${arg.required ? "" : " (optional)"}`;
      el.dataset.name = arg.name;
      form.append(el);
      return { arg, el };
    });
    const out = document.createElement("output");
    const button = document.createElement("button");
    button.textContent = "Run";
    form.append(button, out);
    form.onsubmit = async (e) => {
      e.preventDefault();
      const args = [];
      for (const { arg, el } of inputs) {
        if (arg.type !== "bool" && el.value === "" && !arg.required) continue;
        try { args.push({ name: arg.name, value: read(arg.type, el) }); } catch (err) {
          out.textContent = `${arg.name}: not valid JSON`;
          return;
        }
      }
      const res = await run(a.service, a.action, args);
      out.textContent = res.ok ? JSON.stringify(res.result).slice(0, 300) : res.error;
      out.dataset.kind = res.ok ? "ok" : "error";
    };
    root.append(form);
  }
}
