// Carbon Ledger managers' dashboard: plain JS over the Scope 3 API, charts by Chart.js (served
// locally from the pinned npm package). The bearer token comes from the form or once from
// ?token=... and is kept in this tab's sessionStorage only; it is removed from the address bar.
"use strict";

const TOKEN_KEY = "carbonLedgerToken";
const CATEGORY_COLORS = { 5: "#8d6e63", 6: "#1e88e5", 7: "#43a047" };
const CATEGORY_LABELS = {
  5: "类别 5 废弃物 Cat. 5 Waste",
  6: "类别 6 差旅 Cat. 6 Business travel",
  7: "类别 7 通勤 Cat. 7 Commuting",
};
const state = { doc: null, status: null, charts: {}, companies: [] };

const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch (_) {
      problem = {};
    }
    throw new Error(`${response.status} ${problem.title || ""}: ${problem.detail || ""}`);
  }
  return response;
}

const fmtKg = (grams) =>
  (grams / 1000).toLocaleString("en-US", { minimumFractionDigits: 3, maximumFractionDigits: 3 });
const fmt3 = (value) =>
  value.toLocaleString("en-US", { minimumFractionDigits: 3, maximumFractionDigits: 3 });
const fmtPct = (value) => (value === null || value === undefined ? "—" : (value * 100).toFixed(1) + " %");

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  if (text !== "") node.textContent = text;
  return node;
}

function figureLink(figure, explainUrl, testid) {
  const link = el("a", { href: "#", class: "explain", "data-g": figure.co2e_g, "data-testid": testid });
  link.textContent = fmtKg(figure.co2e_g);
  if (explainUrl) link.dataset.explain = explainUrl;
  return link;
}

function setFigure(id, figure, explainUrl, text) {
  const node = $(id);
  node.textContent = text === undefined ? fmtKg(figure.co2e_g) : text;
  node.dataset.g = figure.co2e_g;
  if (explainUrl) node.dataset.explain = explainUrl;
}

function showMessage(text, isError) {
  const box = $("message");
  box.hidden = !text;
  box.textContent = text || "";
  box.className = isError ? "error" : "";
}

function category(block, number) {
  return block.inventory.categories.find((c) => c.category === number) || { co2e_g: 0, records: 0 };
}

function renderCards(doc) {
  const block = doc.totals;
  const total = block.inventory.total;
  setFigure("total-t", total, total.explain_url, fmt3(total.co2e_t));
  setFigure("total-kg", total, null);
  $("total-records").textContent = total.records;
  for (const number of [5, 6, 7]) {
    const row = category(block, number);
    setFigure(`cat-${number}-kg`, row, row.explain_url);
  }
  setFigure("avoided-kg", block.avoided.total, null);
  const quality = block.data_quality;
  $("reporting-share").textContent = fmtPct(quality.reporting_share);
  $("reporting-count").textContent =
    `${quality.employees_reporting} / ${quality.headcount === null ? "?" : quality.headcount}`;
  $("primary-share").textContent = fmtPct(quality.primary_data_share_records);
  const estimate = block.extrapolation;
  const box = $("extrapolation");
  box.hidden = !estimate;
  if (estimate) {
    box.replaceChildren(
      el("h3", {}, "估算（非实测，不计入合计）Estimate — not measured, not in any total"),
      el(
        "p",
        { "data-g": estimate.estimate ? estimate.estimate.co2e_g : "" },
        estimate.estimate
          ? `类别 7 未报告员工 Cat. 7, non-reporting employees: ${fmtKg(estimate.estimate.co2e_g)} kg CO2e`
          : `不可用 Not available: ${estimate.reason || ""}`,
      ),
      el("p", { class: "note" }, estimate.method_zh || estimate.note_zh || ""),
      el("p", { class: "note" }, estimate.method_en || estimate.note_en || ""),
    );
  }
}

function renderStatus(doc, status) {
  const period = $("period-status");
  if (doc.status === "closed") {
    const close = doc.close;
    const anchored = status.anchoring.configured && status.anchoring.anchored_tree_size > close.leaf_index;
    period.textContent =
      `已关账 Closed ${doc.period.label} (rev. ${close.revision}, leaf ${close.leaf_index}, ` +
      `${anchored ? "已锚定 anchored" : "待锚定 awaiting anchor"})` +
      (doc.changes_since_close.length ? ` · 关账后变更 ${doc.changes_since_close.length} changes since close` : "");
    period.className = "closed";
  } else {
    period.textContent = `未关账（临时数据）Open ${doc.period.label} — provisional`;
    period.className = "open";
  }
  const anchoring = status.anchoring;
  if (!anchoring.configured) {
    $("anchoring").textContent = "链未配置 Chain not configured";
  } else {
    const last = anchoring.last_checkpoint;
    $("anchoring").textContent =
      `锚定 Anchoring: ${anchoring.anchored_tree_size} / ${anchoring.log_size} leaves` +
      (last ? ` · checkpoint #${last.seq} (${last.age_s} s ago)` : " · no checkpoint yet") +
      ` · 落后 behind: ${anchoring.leaves_behind} leaves, ${anchoring.oldest_unanchored_age_s} s`;
    $("anchoring").className = anchoring.leaves_behind > 0 ? "behind" : "ok";
  }
  $("feed").hidden = !status.feed;
  $("feed").textContent = status.feed
    ? `推送 Feed: ${status.feed.pending} pending, ${status.feed.delivered} delivered` +
      (status.feed.platform_configured ? "" : " (platform URL not set)")
    : "";
}

function chart(id, config) {
  if (typeof Chart === "undefined") return;
  if (state.charts[id]) state.charts[id].destroy();
  config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options);
  state.charts[id] = new Chart($(id), config);
}

function renderCharts(doc) {
  const block = doc.totals;
  chart("chart-trend", {
    type: "bar",
    data: {
      labels: block.months.map((m) => m.period),
      datasets: [7, 6, 5].map((c) => ({
        label: CATEGORY_LABELS[c],
        backgroundColor: CATEGORY_COLORS[c],
        data: block.months.map((m) => category(m, c).co2e_g / 1000),
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "kg CO2e" } } } },
  });
  chart("chart-companies", {
    type: "bar",
    data: {
      labels: doc.companies.map((b) => b.company),
      datasets: [7, 6, 5].map((c) => ({
        label: CATEGORY_LABELS[c],
        backgroundColor: CATEGORY_COLORS[c],
        data: doc.companies.map((b) => category(b, c).co2e_g / 1000),
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "kg CO2e" } } } },
  });
  chart("chart-participation", {
    type: "bar",
    data: {
      labels: doc.companies.map((b) => b.company),
      datasets: [
        {
          label: "报告率 % Reporting share",
          backgroundColor: "#7e57c2",
          data: doc.companies.map((b) =>
            b.data_quality.reporting_share === null ? 0 : b.data_quality.reporting_share * 100,
          ),
        },
      ],
    },
    options: { scales: { y: { min: 0, max: 100 } } },
  });
  const types = block.activity_types.slice(0, 8);
  chart("chart-types", {
    type: "bar",
    data: {
      labels: types.map((t) => t.type),
      datasets: [{ label: "记录 Records", backgroundColor: "#26a69a", data: types.map((t) => t.records) }],
    },
    options: { indexAxis: "y" },
  });
}

function renderCompanies(doc) {
  const table = $("companies-table");
  const head = el("tr");
  for (const title of [
    "公司 Company",
    "类别 7 kg",
    "类别 6 kg",
    "类别 5 kg",
    "合计 Total kg",
    "减排 Avoided kg",
    "报告率 Reporting",
    "一手数据 Primary",
  ]) {
    head.append(el("th", {}, title));
  }
  const rows = [head];
  for (const block of doc.companies) {
    const row = el("tr", { "data-company": block.company });
    row.append(el("td", { class: "l" }, block.company || "(无公司 none)"));
    for (const number of [7, 6, 5]) {
      const cell = el("td");
      const cat = category(block, number);
      cell.append(figureLink(cat, cat.explain_url, `company-${block.company}-cat-${number}`));
      row.append(cell);
    }
    const totalCell = el("td");
    const total = block.inventory.total;
    totalCell.append(figureLink(total, total.explain_url, `company-${block.company}-total`));
    row.append(totalCell);
    row.append(el("td", { "data-g": block.avoided.total.co2e_g }, fmtKg(block.avoided.total.co2e_g)));
    row.append(el("td", {}, fmtPct(block.data_quality.reporting_share)));
    row.append(el("td", {}, fmtPct(block.data_quality.primary_data_share_records)));
    rows.push(row);
  }
  table.replaceChildren(...rows);
}

function renderDepartments(doc) {
  const section = $("departments-section");
  const block = doc.totals;
  section.hidden = !block.departments;
  if (!block.departments) return;
  const head = el("tr");
  for (const title of ["部门 Department", "报告人数 Reporting", "类别 7 kg", "类别 6 kg", "类别 5 kg", "合计 Total kg"]) {
    head.append(el("th", {}, title));
  }
  const rows = [head];
  for (const dept of block.departments) {
    const row = el("tr");
    row.append(el("td", { class: "l" }, dept.department || `${dept.label_zh} / ${dept.label_en}`));
    row.append(el("td", {}, dept.employees_reporting));
    for (const number of [7, 6, 5]) {
      const cell = el("td");
      const cat = category(dept, number);
      cell.append(figureLink(cat, cat.explain_url, `dept-${dept.department || "other"}-cat-${number}`));
      row.append(cell);
    }
    row.append(el("td", { "data-g": dept.inventory.total.co2e_g }, fmtKg(dept.inventory.total.co2e_g)));
    rows.push(row);
  }
  $("departments-table").replaceChildren(...rows);
  $("privacy-note").textContent = `${block.privacy.note_zh} ${block.privacy.note_en}` +
    ` (${block.privacy.departments_not_shown} not shown)`;
}

function renderMethods(doc) {
  const methodology = doc.methodology;
  $("methods").replaceChildren(
    ...methodology.methods.map((m) => el("li", {}, `类别 Cat. ${m.category}: ${m.method_zh} / ${m.method_en}`)),
    ...methodology.factor_sets.map((s) =>
      el("li", {}, `因子集 Factor set ${s.version} (sha256 ${s.sha256 || "?"}) — ${s.description || ""}`),
    ),
  );
  const head = el("tr");
  for (const title of ["因子 Factor", "值 Value", "单位 Unit", "来源 Source", "年份 Year", "用于 Used for"]) {
    head.append(el("th", {}, title));
  }
  const rows = [head];
  for (const f of methodology.factors) {
    const row = el("tr");
    for (const value of [f.id, f.value, f.unit, f.source, f.year, f.used_for.join(", ")]) {
      row.append(el("td", { class: "l" }, String(value)));
    }
    rows.push(row);
  }
  $("factors-table").replaceChildren(...rows);
  $("rounding").textContent = `${methodology.rounding_zh} ${methodology.rounding_en}`;
}

function fillCompanies(doc, status) {
  const select = $("company");
  if (status.role === "company_admin") {
    select.replaceChildren(el("option", { value: status.company }, status.company));
    return;
  }
  if (doc.scope.level !== "park") return;
  const chosen = select.value;
  const options = [el("option", { value: "" }, "全部 All companies")];
  for (const block of doc.companies) options.push(el("option", { value: block.company }, block.company));
  select.replaceChildren(...options);
  select.value = chosen;
}

async function load() {
  if (!token()) {
    $("content").hidden = true;
    showMessage("请输入令牌。Enter a park manager or company admin token above (or open /dashboard?token=…).");
    return;
  }
  const params = new URLSearchParams({ period: $("period").value.trim() });
  if ($("company").value) params.set("company", $("company").value);
  if ($("extrapolate").checked) params.set("extrapolate", "true");
  document.body.dataset.loaded = "false";
  showMessage("加载中… Loading…");
  try {
    const [doc, status] = await Promise.all([
      api("/api/v1/scope3/summary?" + params).then((r) => r.json()),
      api("/api/v1/dashboard/status").then((r) => r.json()),
    ]);
    state.doc = doc;
    state.status = status;
    fillCompanies(doc, status);
    renderStatus(doc, status);
    renderCards(doc);
    renderCompanies(doc);
    renderDepartments(doc);
    renderMethods(doc);
    $("content").hidden = false;
    renderCharts(doc);
    showMessage("");
    document.body.dataset.loaded = "true";
  } catch (error) {
    $("content").hidden = true;
    showMessage(`加载失败 Could not load: ${error.message}`, true);
    document.body.dataset.loaded = "error";
  }
}

function renderExplanation(data) {
  const body = $("explain-body");
  const figure = data.figure;
  const rows = [
    ["期间 Period", `${data.period} (${data.status}, log prefix ${data.as_of_tree_size} leaves)`],
    ["筛选 Filters", Object.entries(data.filters).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).join(", ") || "park"],
    ["排放 Inventory", `${fmtKg(figure.inventory.co2e_g)} kg CO2e (${figure.inventory.co2e_g} g, ${figure.records} records)`],
    ["减排（单列）Avoided", `${fmtKg(figure.avoided.co2e_g)} kg CO2e`],
    ["方法 Method", data.methods.map((m) => `Cat. ${m.category}: ${m.method_zh} / ${m.method_en}`).join("; ")],
    ["来源 Sources", Object.entries(data.sources).map(([k, v]) => `${k}: ${v}`).join(", ")],
    ["一手数据 Primary share", fmtPct(data.primary_data_share_records)],
  ];
  const table = el("table");
  for (const [key, value] of rows) {
    const row = el("tr");
    row.append(el("th", { class: "l" }, key), el("td", { class: "l" }, value));
    table.append(row);
  }
  const factors = el("table");
  const head = el("tr");
  for (const title of ["因子集 Set", "角色 Role", "因子 Factor", "值 Value", "单位 Unit", "来源 Source", "记录 Records"]) {
    head.append(el("th", {}, title));
  }
  factors.append(head);
  for (const f of data.factors) {
    const row = el("tr");
    for (const value of [f.factor_set, f.role, f.id, f.value, f.unit, `${f.source} (${f.year})`, f.records]) {
      row.append(el("td", { class: "l" }, String(value)));
    }
    factors.append(row);
  }
  const formulas = data.activity_types.map((t) => el("li", {}, `${t.type}: ${t.records} records · ${t.formula}`));
  body.replaceChildren(
    table,
    el("h3", {}, "规则 Rule"),
    el("p", {}, data.rule_zh),
    el("p", {}, data.rule_en),
    el("h3", {}, "公式 Formulas"),
    el("ul", {}, ""),
    el("h3", {}, "所用因子 Factors applied"),
    factors,
    el("p", { class: "note" }, `${data.rounding_zh} ${data.rounding_en}`),
    el("p", { class: "note" }, `${data.verify_zh} ${data.verify_en}`),
  );
  body.querySelector("ul").replaceChildren(...formulas);
}

async function explain(url) {
  $("explain-panel").hidden = false;
  $("explain-url").textContent = url;
  $("explain-body").textContent = "加载中… Loading…";
  try {
    renderExplanation(await api(url).then((r) => r.json()));
  } catch (error) {
    $("explain-body").textContent = `无法说明 Cannot explain: ${error.message}`;
  }
}

async function download(kind) {
  const doc = state.doc;
  const params = new URLSearchParams({ period: doc.period.label });
  if (doc.scope.company) params.set("company", doc.scope.company);
  const path = kind === "report" ? "/api/v1/scope3/report?" : `/api/v1/scope3/export?format=${kind}&`;
  const blob = await api(path + params).then((r) => r.blob());
  const url = URL.createObjectURL(blob);
  if (kind === "report") {
    window.open(url, "_blank");
    return;
  }
  const link = el("a", { href: url, download: `scope3-${doc.period.label}.${kind}` });
  document.body.append(link);
  link.click();
  link.remove();
}

function init() {
  takeTokenFromUrl();
  $("period").value = new URLSearchParams(window.location.search).get("period") || String(new Date().getFullYear());
  $("token").value = token();
  $("controls").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    load();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    load();
  });
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.explain");
    if (!link) return;
    event.preventDefault();
    if (link.dataset.explain) explain(link.dataset.explain);
  });
  $("explain-close").addEventListener("click", () => {
    $("explain-panel").hidden = true;
  });
  for (const button of document.querySelectorAll("[data-export]")) {
    button.addEventListener("click", () => download(button.dataset.export).catch((e) => showMessage(e.message, true)));
  }
  load();
}

document.addEventListener("DOMContentLoaded", init);
