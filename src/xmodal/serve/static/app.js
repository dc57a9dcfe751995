// The search page: a thin client of the JSON API. Every piece of text from the collection
// goes in with textContent, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);
const FILTERS = ["type", "after", "before", "path"];
const state = { picture: null, offset: 0, done: true, busy: false, hits: [], query: null, token: 0 };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function formQuery() {
  const query = { q: $("q").value.trim(), k: $("k").value };
  for (const name of FILTERS) query[name] = $(name).value.trim();
  return query;
}

function toUrl(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value && !(key === "k" && value === "24")) params.set(key, value);
  return params;
}

function fromUrl() {
  const params = new URLSearchParams(location.search);
  $("q").value = params.get("q") || "";
  $("k").value = params.get("k") || "24";
  for (const name of FILTERS) $(name).value = params.get(name) || "";
  if (FILTERS.some((name) => params.get(name))) $("filters").open = true;
}

function seconds(t) {
  const m = Math.floor(t / 60), s = Math.floor(t % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
}

function baseName(path) {
  return path.split(/[\\/]/).pop();
}

async function api(url, options) {
  const answer = await fetch(url, options);
  const body = await answer.json().catch(() => ({ error: `HTTP ${answer.status}` }));
  if (!answer.ok) throw new Error(body.error || `HTTP ${answer.status}`);
  return body;
}

function pageRequest(query, offset) {
  if (state.picture) {
    const form = new FormData();
    form.append("file", state.picture);
    for (const [key, value] of Object.entries(query)) if (value) form.append(key, value);
    form.set("offset", String(offset));
    return api("/api/search", { method: "POST", body: form });
  }
  const params = toUrl(query);
  params.set("k", query.k);
  params.set("offset", String(offset));
  return api(`/api/search?${params}`);
}

function card(hit, index) {
  const pic = el("div", { class: "pic" });
  if (hit.modality === "image") {
    pic.append(el("img", { src: `/api/items/${hit.id}/thumbnail?size=256`, alt: baseName(hit.path), loading: "lazy" }));
  } else {
    pic.classList.add("text");
    let words = hit.text || "";
    if (hit.start != null) words = `▶ ${seconds(hit.start)}  ${words}`;
    pic.textContent = words.slice(0, 220);
  }
  const meta = el("div", { class: "meta" },
    el("span", { class: `badge ${hit.modality}` }, hit.modality),
    el("span", { class: "name", title: hit.path }, baseName(hit.path)),
    el("span", { class: "score" }, hit.score.toFixed(3)));
  const item = el("li", { class: "hit", tabindex: "0", "data-id": hit.id, "data-index": String(index) }, pic, meta);
  item.addEventListener("click", () => openDetail(hit));
  return item;
}

function showHits(hits) {
  const grid = $("grid");
  const known = new Set(state.hits.map((h) => h.id));
  for (const hit of hits) {
    if (known.has(hit.id)) continue;
    known.add(hit.id);
    state.hits.push(hit);
    grid.append(card(hit, state.hits.length - 1));
  }
}

function describe() {
  const n = state.hits.length;
  const what = state.picture ? "the picture" : `“${state.query.q}”`;
  const extra = state.picture && state.query.q ? ` and “${state.query.q}”` : "";
  return n ? `${n}${state.done ? "" : "+"} results for ${what}${extra}` : `no results for ${what}${extra}`;
}

async function loadMore() {
  if (state.busy || state.done) return;
  state.busy = true;
  const token = state.token;
  try {
    const k = Number(state.query.k);
    const body = await pageRequest(state.query, state.offset);
    if (token !== state.token) return;
    state.offset += k;
    state.done = body.results.length < k;
    showHits(body.results);
    $("status").textContent = describe();
  } catch (error) {
    if (token === state.token) {
      state.done = true;
      $("status").textContent = error.message;
    }
  } finally {
    if (token === state.token) state.busy = false;
  }
  if (!state.done && isVisible($("more"))) loadMore();
}

function isVisible(node) {
  const box = node.getBoundingClientRect();
  return box.top < window.innerHeight + 200;
}

function startSearch(push = true) {
  const query = formQuery();
  if (!query.q && !state.picture) {
    $("status").textContent = "type some words, or drop or paste a picture";
    return;
  }
  if (push && !state.picture) {
    const params = toUrl(query).toString();
    history.pushState(null, "", params ? `?${params}` : location.pathname);
  }
  state.token += 1;
  Object.assign(state, { query, offset: 0, done: false, busy: false, hits: [] });
  $("grid").replaceChildren();
  closeDetail();
  $("status").textContent = "searching…";
  loadMore();
}

function setPicture(file) {
  if (!file || !file.type.startsWith("image/")) {
    $("status").textContent = "drop or paste a picture (JPEG, PNG, WebP, GIF, BMP, TIFF)";
    return;
  }
  state.picture = file;
  $("picture-preview").src = URL.createObjectURL(file);
  $("picture").hidden = false;
  startSearch();
}

function clearPicture() {
  state.picture = null;
  $("picture").hidden = true;
  $("picture-preview").removeAttribute("src");
}

function marked(text, words) {
  const node = el("div", { class: "passage" });
  const terms = words.filter((w) => w.length > 1).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!terms.length) {
    node.textContent = text;
    return node;
  }
  const pattern = new RegExp(`(${terms.join("|")})`, "giu");
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    node.append(text.slice(last, match.index), el("mark", {}, match[0]));
    last = match.index + match[0].length;
  }
  node.append(text.slice(last));
  return node;
}

function queryWords() {
  const q = state.query ? state.query.q : "";
  return q.replace(/[-+*"']/g, " ").split(/\s+/).filter(Boolean);
}

function figure(hit, item) {
  const box = el("div", { class: "figure" }, el("img", { src: `/api/items/${hit.id}/thumbnail?size=1024`, alt: item.name }));
  if (item.ocr.length && item.box_frame) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${item.box_frame[0]} ${item.box_frame[1]}`);
    svg.setAttribute("preserveAspectRatio", "none");
    for (const found of item.ocr) {
      const polygon = document.createElementNS(ns, "polygon");
      polygon.setAttribute("points", found.box.map((p) => p.join(",")).join(" "));
      const title = document.createElementNS(ns, "title");
      title.textContent = found.text;
      polygon.append(title);
      svg.append(polygon);
    }
    box.append(svg);
  }
  return box;
}

function player(hit, item) {
  const tag = item.modality === "video" ? "video" : "audio";
  const start = hit.start || 0;
  const fragment = hit.start != null ? `#t=${start}${hit.end != null ? "," + hit.end : ""}` : "";
  const media = el(tag, { controls: "", preload: "metadata", src: `/api/items/${hit.id}/media${fragment}` });
  // browsers that ignore the fragment still start at the moment
  media.addEventListener("loadedmetadata", () => { if (media.currentTime < start) media.currentTime = start; }, { once: true });
  return media;
}

function why(hit) {
  const spaces = Object.entries(hit.spaces || {});
  if (!spaces.length) return [];
  const top = Math.max(...spaces.map(([, v]) => Math.abs(v)), 1e-9);
  const list = el("ul", { class: "why" });
  for (const [name, value] of spaces.sort((a, b) => b[1] - a[1])) {
    const bar = el("div", { class: "bar" });
    bar.style.width = `${Math.max(2, (100 * Math.abs(value)) / top)}%`;
    list.append(el("li", {}, el("span", {}, name), bar, el("span", { class: "score" }, value.toFixed(3))));
  }
  return [el("h3", {}, "Why it matched"), list];
}

async function openDetail(hit) {
  const body = $("detail-body");
  body.replaceChildren(el("p", {}, "loading…"));
  $("detail").hidden = false;
  $("detail").dataset.id = hit.id;
  let item;
  try {
    item = await api(`/api/items/${hit.id}`);
  } catch (error) {
    body.replaceChildren(el("p", { class: "error" }, error.message));
    return;
  }
  const parts = [el("h2", {}, item.name)];
  if (item.modality === "image" && item.has_picture) parts.push(figure(hit, item));
  if (item.modality === "audio" || item.modality === "video") parts.push(player(hit, item));
  const matched = hit.text || "";
  if (matched) parts.push(el("h3", {}, item.modality === "text" ? "Passage" : "Text that matched"), marked(matched, queryWords()));
  if (item.transcript) parts.push(el("h3", {}, "Transcript"), marked(item.transcript.slice(0, 2000), queryWords()));
  parts.push(...why(hit));
  const similar = el("button", { type: "button", id: "similar" }, "More like this");
  similar.addEventListener("click", () => showSimilar(hit));
  const open = el("a", { href: `/api/items/${hit.id}/media`, target: "_blank", rel: "noopener" }, "Open the file");
  parts.push(el("p", {}, similar, " ", open), el("p", { class: "score" }, item.path));
  body.replaceChildren(...parts);
  similar.focus();
}

async function showSimilar(hit) {
  state.token += 1;
  Object.assign(state, { offset: 0, done: true, busy: false, hits: [] });
  $("grid").replaceChildren();
  closeDetail();
  try {
    const body = await api(`/api/items/${hit.id}/similar?k=${$("k").value}`);
    showHits(body.results);
    $("status").textContent = `${state.hits.length} results like ${baseName(hit.path)}`;
  } catch (error) {
    $("status").textContent = error.message;
  }
}

function closeDetail() {
  const wasOpen = !$("detail").hidden;
  $("detail").hidden = true;
  const id = $("detail").dataset.id;
  const back = id && document.querySelector(`.hit[data-id="${CSS.escape(id)}"]`);
  if (wasOpen && back) back.focus();
}

function columns() {
  const cards = [...document.querySelectorAll(".hit")];
  if (!cards.length) return 1;
  const top = cards[0].offsetTop;
  const n = cards.findIndex((c) => c.offsetTop !== top);
  return n === -1 ? cards.length : n;
}

function onKey(event) {
  if (event.key === "Escape") {
    if (!$("detail").hidden) closeDetail();
    else if (state.picture) clearPicture();
    return;
  }
  const current = document.activeElement;
  if (!current || !current.classList.contains("hit")) return;
  const index = Number(current.dataset.index);
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() }[event.key];
  if (event.key === "Enter") {
    openDetail(state.hits[index]);
  } else if (step) {
    const next = document.querySelector(`.hit[data-index="${index + step}"]`);
    if (next) { next.focus(); event.preventDefault(); }
  }
}

function wireDrop() {
  let depth = 0;
  document.addEventListener("dragenter", (e) => { e.preventDefault(); depth += 1; $("drop-hint").hidden = false; });
  document.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) $("drop-hint").hidden = true; });
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    $("drop-hint").hidden = true;
    setPicture(e.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (e) => {
    const file = [...e.clipboardData.files].find((f) => f.type.startsWith("image/"));
    if (file) { e.preventDefault(); setPicture(file); }
  });
}

function init() {
  $("search").addEventListener("submit", (e) => { e.preventDefault(); startSearch(); });
  $("picture-clear").addEventListener("click", () => { clearPicture(); startSearch(); });
  $("detail-close").addEventListener("click", closeDetail);
  document.addEventListener("keydown", onKey);
  wireDrop();
  new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); })
    .observe($("more"));
  window.addEventListener("popstate", () => { clearPicture(); fromUrl(); if ($("q").value) startSearch(false); });
  fromUrl();
  if ($("q").value) startSearch(false);
}

init();
