// MTAVG-Bench explorer: an instance x model matrix with facets and live accuracy, and one page
// per instance (#instance=<id>) with its clips, question, gold and every model's reply. Data:
// data/index.json at start, data/detail/<chunk>.json when an instance is opened. Every value from
// the data is put in the page as text, never as markup.
"use strict";

const ROW = 23; // px, the height of one matrix row (style.css: td height + border)
const T975 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
  2.048, 2.045, 2.042]; // Student's t 0.975 quantile by degrees of freedom; 1.96 beyond 30
const ERROR_CODES = new Set(["e", "t", "r"]); // error, timeout, rate_limited
let INDEX = null;
let VISIBLE = []; // positions of the instances passing the filters
const CHUNKS = new Map();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const letter = (i) => String.fromCharCode(65 + i);
const fmt = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(d));
const models = () => INDEX.models.map((m) => m.name);

function statusName(code) {
  return INDEX.status_codes[code] || (code === "." ? "no row" : code);
}

function cellClass(model, i) {
  const m = INDEX.matrix[model];
  const s = m.status[i];
  if (s === "m" || s === ".") return "missing";
  if (ERROR_CODES.has(s)) return "failed";
  if (m.correct[i] === "1") return "right";
  if (m.correct[i] === "0") return "wrong";
  return "";
}

function cellText(model, i) {
  const m = INDEX.matrix[model];
  const s = m.status[i];
  if (INDEX.instances.question_type[i] === "temporal" && s === "o") return fmt(m.iou[i], 2);
  if (s === "o") return m.answer[i] === "." ? "?" : m.answer[i];
  return statusName(s);
}

function tQuantile(df) {
  return df < T975.length ? T975[df] : 1.96;
}

// accuracy over the filtered questions with a gold letter, with a cluster-robust (CR1) interval
function liveStats(model) {
  const inst = INDEX.instances;
  const m = INDEX.matrix[model];
  const sums = new Map();
  let n = 0, right = 0, chance = 0, iouSum = 0, iouN = 0;
  for (const i of VISIBLE) {
    if (inst.question_type[i] === "temporal") {
      if (m.status[i] !== ".") { iouSum += m.iou[i] || 0; iouN += 1; }
      continue;
    }
    if (inst.gold[i] === null || m.status[i] === ".") continue;
    const r = m.correct[i] === "1" ? 1 : 0;
    n += 1; right += r; chance += inst.n_options[i] ? 1 / inst.n_options[i] : 0;
    const c = inst.cluster[i];
    const s = sums.get(c) || [0, 0];
    s[0] += r; s[1] += 1; sums.set(c, s);
  }
  if (!n) return { n: 0, iou: iouN ? iouSum / iouN : null, nTemporal: iouN };
  const p = right / n, k = sums.size;
  let ss = 0;
  for (const [r, size] of sums.values()) ss += (r - p * size) ** 2;
  const se = k > 1 ? Math.sqrt((k / (k - 1)) * ss) / n : NaN;
  const h = tQuantile(k - 1) * se;
  return { n, p, low: Math.max(0, p - h), high: Math.min(1, p + h), k, chance: chance / n,
    iou: iouN ? iouSum / iouN : null, nTemporal: iouN };
}

function facetValues(facet) {
  const counts = new Map();
  for (const v of INDEX.instances[facet]) counts.set(v, (counts.get(v) || 0) + 1);
  return [...counts.entries()].filter(([v]) => v !== "").sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

function buildFilters() {
  const box = document.getElementById("facets");
  for (const facet of INDEX.facets) {
    const values = facetValues(facet);
    if (!values.length) continue;
    const select = el("select", { id: `facet-${facet}`, "data-facet": facet }, el("option", { value: "", text: "all" }));
    for (const [v, c] of values) select.append(el("option", { value: v, text: `${v} (${c})` }));
    select.addEventListener("change", applyFilters);
    box.append(el("label", {}, `${facet.replace("_", " ")} `, select));
  }
  for (const id of ["model-a", "model-b"]) {
    const select = document.getElementById(id);
    for (const name of models()) select.append(el("option", { value: name, text: name }));
    select.addEventListener("change", applyFilters);
  }
  const names = models();
  if (names.length > 1) document.getElementById("model-b").value = names[1];
  document.getElementById("outcome").addEventListener("change", applyFilters);
  document.getElementById("search").addEventListener("input", applyFilters);
}

function passesOutcome(i, outcome, a, b) {
  const names = models();
  const M = INDEX.matrix;
  const choice = INDEX.instances.question_type[i] !== "temporal";
  switch (outcome) {
    case "all_wrong": return choice && names.every((n) => M[n].correct[i] !== "1");
    case "all_right": return choice && names.every((n) => M[n].correct[i] === "1");
    case "unparseable": return names.some((n) => M[n].status[i] === "u");
    case "judged": return names.some((n) => M[n].judged[i] === "1");
    case "error": return names.some((n) => ERROR_CODES.has(M[n].status[i]));
    case "missing": return names.some((n) => M[n].status[i] === "m");
    case "a_not_b": return choice && M[a].correct[i] === "1" && M[b].correct[i] !== "1";
    case "disagree": return M[a].answer[i] !== M[b].answer[i];
    default: return true;
  }
}

function applyFilters() {
  const inst = INDEX.instances;
  const chosen = [...document.querySelectorAll("#facets select")].filter((s) => s.value !== "")
    .map((s) => [s.dataset.facet, s.value]);
  const outcome = document.getElementById("outcome").value;
  const a = document.getElementById("model-a").value, b = document.getElementById("model-b").value;
  const needle = document.getElementById("search").value.trim().toLowerCase();
  VISIBLE = [];
  for (let i = 0; i < inst.instance_id.length; i++) {
    if (chosen.some(([f, v]) => inst[f][i] !== v)) continue;
    if (needle && !inst.instance_id[i].toLowerCase().includes(needle)) continue;
    if (outcome && !passesOutcome(i, outcome, a, b)) continue;
    VISIBLE.push(i);
  }
  document.getElementById("filter-summary").textContent =
    `${VISIBLE.length} of ${inst.instance_id.length} instances`;
  renderHead();
  renderRows(true);
}

function colgroup() {
  const group = el("colgroup", {}, el("col", { style: "width:16em" }), el("col", { style: "width:6em" }),
    el("col", { style: "width:11em" }), el("col", { style: "width:3em" }));
  for (let k = 0; k < models().length; k++) group.append(el("col", { style: "width:6.5em" }));
  return group;
}

function renderHead() {
  const head = document.getElementById("matrix-head");
  head.replaceChildren();
  head.parentElement.querySelector("colgroup")?.remove();
  head.parentElement.prepend(colgroup());
  const row = el("tr", {}, el("th", { text: "instance" }), el("th", { text: "type" }), el("th", { text: "category" }),
    el("th", { text: "gold" }));
  for (const model of INDEX.models) {
    const s = liveStats(model.name);
    const stat = s.n
      ? `${fmt(s.p)} [${fmt(s.low)}, ${fmt(s.high)}] n=${s.n} chance ${fmt(s.chance)}`
      : s.nTemporal ? `mIoU ${fmt(s.iou)} n=${s.nTemporal}` : "n=0";
    const board = model.accuracy !== undefined && model.accuracy !== null
      ? `board ${fmt(model.accuracy)} [${fmt(model.ci_low)}, ${fmt(model.ci_high)}]` : model.standing;
    row.append(el("th", { class: `model${model.baseline ? " baseline" : ""}`, title: `${model.name}\n${board}`,
      "data-model": model.name }, model.name, el("span", { class: "stat live", text: stat }),
      el("span", { class: "stat", text: board })));
  }
  head.append(row);
}

function renderRows(reset) {
  const box = document.getElementById("rows");
  const spacer = document.getElementById("spacer");
  if (reset) box.scrollTop = 0;
  spacer.style.height = `${VISIBLE.length * ROW}px`;
  const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 10);
  const last = Math.min(VISIBLE.length, first + Math.ceil(box.clientHeight / ROW) + 20);
  const inst = INDEX.instances;
  const body = el("tbody");
  for (let r = first; r < last; r++) {
    const i = VISIBLE[r];
    const id = inst.instance_id[i];
    const tr = el("tr", {}, el("td", { class: "id", title: id }, el("a", { href: `#instance=${encodeURIComponent(id)}`, text: id })),
      el("td", { text: inst.question_type[i] }), el("td", { text: inst.category[i], title: inst.category[i] }),
      el("td", { text: inst.gold[i] ?? "" }));
    for (const name of models()) {
      const judged = INDEX.matrix[name].judged[i] === "1" ? " judged" : "";
      tr.append(el("td", { class: `cell ${cellClass(name, i)}${judged}`, text: cellText(name, i) }));
    }
    body.append(tr);
  }
  const table = el("table", { style: `position:absolute;top:${first * ROW}px` }, colgroup(), body);
  spacer.replaceChildren(table);
}

async function chunk(number) {
  if (!CHUNKS.has(number)) {
    CHUNKS.set(number, fetch(`data/detail/${number}.json`).then((r) => {
      if (!r.ok) throw new Error(`data/detail/${number}.json: HTTP ${r.status}`);
      return r.json();
    }));
  }
  return CHUNKS.get(number);
}

function facts(pairs) {
  const dl = el("dl", { class: "facts" });
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === "") continue;
    dl.append(el("dt", { text: k }), el("dd", { text: typeof v === "number" ? String(+v.toFixed(6)) : v }));
  }
  return dl;
}

function timeline(detail) {
  const duration = detail.clips.reduce((s, c) => s + (c.duration_s || 0), 0) || 1;
  const entries = [["gold", detail.gold_span]];
  for (const [name, cell] of Object.entries(detail.models)) entries.push([name, [cell.parsed_span_start, cell.parsed_span_end]]);
  const width = 600, left = 140, row = 18;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", String(left + width + 10));
  svg.setAttribute("height", String(entries.length * row + 20));
  svg.setAttribute("class", "timeline");
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  entries.forEach(([name, span], k) => {
    const y = k * row + 4;
    add("text", { x: 0, y: y + 12, "font-size": 12 }, name);
    add("rect", { x: left, y, width, height: row - 6, fill: "#eee" });
    const [a, b] = span || [];
    if (Number.isFinite(a) && Number.isFinite(b) && b >= a) {
      const x0 = left + (Math.max(0, a) / duration) * width, x1 = left + (Math.min(duration, b) / duration) * width;
      add("rect", { x: x0, y, width: Math.max(1, x1 - x0), height: row - 6, fill: k === 0 ? "#2a8f2a" : "#3b6fd1" },
        undefined);
      add("title", {}, `${name}: ${a}–${b} s`);
    }
  });
  add("text", { x: left, y: entries.length * row + 16, "font-size": 11 }, "0 s");
  add("text", { x: left + width - 30, y: entries.length * row + 16, "font-size": 11 }, `${duration.toFixed(1)} s`);
  return svg;
}

function modelPanel(name, cell, detail) {
  const right = cell.correct === true ? "right" : cell.correct === false ? "wrong" : "";
  const answer = detail.question_type === "temporal"
    ? `[${fmt(cell.parsed_span_start, 2)}, ${fmt(cell.parsed_span_end, 2)}] IoU ${fmt(cell.iou)}`
    : (cell.parsed_answer ?? "no answer");
  const box = el("details", { class: `model ${right}`, open: true, "data-model": name },
    el("summary", {}, `${name} — ${cell.status} — ${answer}${right ? ` (${right})` : ""}`));
  box.append(facts([
    ["status", cell.status], ["error", cell.error], ["parsed answer", cell.parsed_answer], ["parsed by", cell.parsed_by],
    ["parser version", cell.parser_version],
    ["received", [cell.received_modalities, cell.received_frames !== null ? `${cell.received_frames} frames` : null,
      cell.received_fps !== null ? `${cell.received_fps} fps` : null, cell.received_resolution,
      cell.received_audio === true ? "audio" : cell.received_audio === false ? "no audio" : null]
      .filter((x) => x !== null && x !== undefined).join(", ")],
    ["media recipe", cell.media_recipe],
    ["tokens", `in ${cell.input_tokens ?? "–"} (audio ${cell.input_audio_tokens ?? "–"}, image ${cell.input_image_tokens ?? "–"}, cached ${cell.cached_input_tokens ?? "–"}), out ${cell.output_tokens ?? "–"} (thinking ${cell.thinking_tokens ?? "–"})`],
    ["cost (USD)", cell.cost_usd], ["latency (s)", cell.latency_s], ["attempts", cell.attempts],
    ["billed attempts", cell.billed_attempts], ["served model", cell.served_model],
    ["prompt", `${cell.prompt_version ?? ""} (template ${String(cell.template_hash ?? "").slice(0, 12)})`],
    ["answered at", cell.created_at],
  ]));
  box.append(el("h4", { text: "raw reply" }), el("pre", { class: "raw", text: cell.raw_response ?? "(none)" }));
  if (cell.judge_response) box.append(el("h4", { text: "judge reply" }), el("pre", { text: cell.judge_response }));
  if (cell.prompt) {
    box.append(el("details", {}, el("summary", { text: "prompt sent" }), el("pre", { class: "prompt", text: cell.prompt })));
  }
  return box;
}

async function showInstance(id) {
  const view = document.getElementById("instance-view");
  const position = INDEX.instances.instance_id.indexOf(id);
  view.replaceChildren(el("p", { text: position < 0 ? `no instance ${id} in this build` : "loading…" }));
  if (position < 0) return;
  let detail;
  try {
    detail = (await chunk(INDEX.instances.chunk[position]))[id];
  } catch (error) {
    view.replaceChildren(el("p", { text: String(error) }));
    return;
  }
  const picks = new Map();
  for (const [name, cell] of Object.entries(detail.models)) {
    if (cell.status === "ok" && cell.parsed_answer) {
      picks.set(cell.parsed_answer, [...(picks.get(cell.parsed_answer) || []), name]);
    }
  }
  const clips = el("div", { class: "clips" });
  detail.clips.forEach((clip, k) => {
    clips.append(el("figure", {}, el("video", { controls: true, preload: "metadata", src: clip.src, "data-clip": clip.clip_id }),
      el("figcaption", { text: `${k + 1}. ${clip.clip_id}${clip.generator ? ` (${clip.generator})` : ""} ${fmt(clip.duration_s, 1)} s` })));
  });
  const parts = [
    el("h2", { text: detail.instance_id }),
    facts([["subset", detail.subset], ["type", detail.question_type], ["dimension", detail.dimension],
      ["category", detail.category], ["generator", detail.source_generator], ["episode", detail.meta?.episode_id]]),
    clips,
    el("h3", { text: "question" }), el("p", { class: "question", text: detail.question }),
  ];
  if (detail.options) {
    const list = el("ol", { class: "options", type: "A" });
    detail.options.forEach((option, k) => {
      const chosen = picks.get(letter(k)) || [];
      list.append(el("li", { class: letter(k) === detail.gold ? "gold" : "", "data-letter": letter(k) }, option,
        chosen.length ? el("span", { class: "picks", text: ` ← ${chosen.join(", ")}` }) : null));
    });
    parts.push(list);
    if (detail.gold === null) parts.push(el("p", { class: "note", text: "no gold answer (unlabelled)" }));
  }
  if (detail.question_type === "temporal") parts.push(el("h3", { text: "spans" }), timeline(detail));
  parts.push(el("h3", { text: "models" }));
  for (const name of models()) {
    const cell = detail.models[name];
    parts.push(cell ? modelPanel(name, cell, detail) : el("p", { class: "missing", "data-model": name, text: `${name}: no answer (missing)` }));
  }
  view.replaceChildren(...parts);
}

function table(rows, columns) {
  const t = el("table", { class: "plain" }, el("tr", {}, ...columns.map((c) => el("th", { text: c }))));
  for (const row of rows) t.append(el("tr", {}, ...columns.map((c) => el("td", { text: row[c] ?? "" }))));
  return t;
}

function showTable(view) {
  const box = document.getElementById("table-view");
  const parts = [];
  if (view === "rejects") {
    for (const [name, rows] of Object.entries(INDEX.rejects)) {
      parts.push(el("h2", { text: `${name}: ${INDEX.n_rejects[name]}` }));
      if (rows.length) parts.push(table(rows, Object.keys(rows[0])));
    }
  } else if (view === "unranked") {
    const rows = INDEX.models.filter((m) => m.standing !== "ranked")
      .map((m) => ({ model: m.name, standing: m.standing, reason: m.incomplete_reason || (m.copy_of ? `control copy of ${m.copy_of}` : ""),
        completeness: m.completeness ?? "" }));
    const unlabelled = INDEX.instances.subset.filter((s) => s === "unlabelled").length;
    parts.push(el("h2", { text: "models not ranked" }), table(rows, ["model", "standing", "reason", "completeness"]),
      el("p", { text: `${unlabelled} unlabelled instances: asked, never scored (generator_profile reads them)` }));
  } else if (view === "missing") {
    parts.push(el("h2", { text: "cells without an answer: missing (never asked, or the run stopped) and failed" }));
    const rows = [];
    for (const name of models()) {
      const s = INDEX.matrix[name].status;
      let missing = 0, failed = 0;
      const examples = [];
      for (let i = 0; i < s.length; i++) {
        if (s[i] === "m" || ERROR_CODES.has(s[i])) {
          s[i] === "m" ? missing++ : failed++;
          if (examples.length < 5) examples.push(INDEX.instances.instance_id[i]);
        }
      }
      const model = INDEX.models.find((m) => m.name === name);
      rows.push({ model: name, missing, failed, standing: model.standing, reason: model.incomplete_reason || "",
        examples: examples.join(", ") });
    }
    parts.push(table(rows, ["model", "missing", "failed", "standing", "reason", "examples"]),
      el("p", { class: "note", text: "Filter the matrix with outcome “some cell missing” to open them." }));
  }
  box.replaceChildren(...parts);
}

function route() {
  const params = new URLSearchParams(location.hash.slice(1));
  const id = params.get("instance");
  const view = params.get("view");
  document.getElementById("matrix-view").hidden = Boolean(id || view);
  document.getElementById("instance-view").hidden = !id;
  document.getElementById("table-view").hidden = !view;
  if (id) showInstance(id);
  else if (view) showTable(view);
  else renderRows(false);
}

async function start() {
  const response = await fetch("data/index.json");
  if (!response.ok) {
    document.body.replaceChildren(el("p", { text: `data/index.json: HTTP ${response.status}` }));
    return;
  }
  INDEX = await response.json();
  document.getElementById("built").textContent = INDEX.built_at ? `build ${INDEX.built_at}` : "";
  buildFilters();
  applyFilters();
  document.getElementById("rows").addEventListener("scroll", () => renderRows(false));
  window.addEventListener("hashchange", route);
  route();
  document.body.dataset.ready = "1";
}

start();
