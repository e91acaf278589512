// Carbon Ledger managers' dashboard: plain JS over the Scope 3 API, charts by Chart.js (served
// locally from the pinned npm package). The bearer token comes from the form or once from
// ?token=... and is kept in this tab's sessionStorage only; it is removed from the address bar.
// One language at a time (中文 / English toggle, remembered in localStorage); every figure keeps
// its exact grams in data-g and in its tooltip, and is shown in t, kg or g at a readable precision.
"use strict";

const TOKEN_KEY = "carbonLedgerToken";
const LANG_KEY = "carbonLedgerLang";
const CATEGORY_COLORS = { 5: "#8d6e63", 6: "#1e88e5", 7: "#43a047" };
const state = { doc: null, previous: null, status: null, targets: null, charts: {}, lang: "zh" };

const WORDS = {
  title: ["碳账本 · 范围三仪表盘", "Carbon Ledger · Scope 3 dashboard"],
  period: ["期间", "Period"],
  "kind.year": ["年", "Year"],
  "kind.quarter": ["季度", "Quarter"],
  "kind.month": ["月", "Month"],
  company: ["公司", "Company"],
  estimate: ["类别 7 外推估算", "Cat. 7 estimate"],
  refresh: ["刷新", "Refresh"],
  token: ["令牌", "Token"],
  use: ["使用", "Use"],
  forget: ["清除", "Forget"],
  "card.total": ["范围三合计", "Scope 3 inventory"],
  "card.cat7": ["类别 7 员工通勤", "Cat. 7 Employee commuting"],
  "card.cat6": ["类别 6 商务差旅", "Cat. 6 Business travel"],
  "card.cat5": ["类别 5 运营废弃物", "Cat. 5 Waste"],
  "card.avoided": ["减排量（单独列示，不抵扣）", "Avoided (reported apart, never subtracted)"],
  "card.quality": ["数据质量", "Data quality"],
  reporting: ["报告率", "Reporting"],
  primary: ["一手数据", "Primary data"],
  "chart.trend": ["按月趋势", "Monthly trend by category"],
  "chart.companies": ["各公司", "By company and category"],
  "chart.participation": ["参与率（报告员工占比）", "Participation (share of employees reporting)"],
  "chart.types": ["主要行为类型（记录数）", "Top activity types (records)"],
  "companies.title": ["各公司合计", "Totals by company"],
  "companies.hint": ["（点击数字查看计算方法）", "(click a figure to see how it was computed)"],
  "departments.title": ["部门", "Departments"],
  "methods.title": ["方法与因子", "Methods and factors"],
  "exports.title": ["导出", "Exports"],
  "exports.report": ["报告", "Report"],
  "explain.title": ["计算说明", "How this figure was computed"],
  footer: [
    "令牌仅保存在本标签页的 sessionStorage 中。数据来自 /api/v1/scope3/summary。",
    "The token stays in this tab's sessionStorage only. Figures come from /api/v1/scope3/summary.",
  ],
};

const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
const L = (zh, en) => (state.lang === "zh" ? zh : en);
const W = (key) => L(...WORDS[key]);

function applyWords() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = W(node.dataset.i18n);
  $("lang").textContent = state.lang === "zh" ? "English" : "中文";
  document.title = W("title");
  fillPeriodParts();
}

// --- numbers ------------------------------------------------------------------------------------

/** Grams as the dashboard shows them: t from 1 t, kg from 1 kg, else g; about three significant
 * digits (never fewer than the whole units), thousands separated. Exact grams stay in data-g. */
function mass(grams) {
  const abs = Math.abs(grams);
  const [value, unit] = abs >= 1e6 ? [grams / 1e6, "t"] : abs >= 1e3 ? [grams / 1e3, "kg"] : [grams, "g"];
  const size = Math.abs(value);
  const digits = unit === "g" || size >= 100 ? 0 : size >= 10 ? 1 : 2;
  const text = value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${text} ${unit}`;
}

const exact = (grams) => `${grams.toLocaleString("en-US")} g CO2e`;
const pct = (value) => (value === null || value === undefined ? "—" : (value * 100).toFixed(1) + " %");

// A figure the disclosure rule withholds (a group of too few people) arrives as null.
const WITHHELD = () => L("已隐藏", "withheld");

function setFigure(node, grams, explainUrl) {
  if (grams === null || grams === undefined) {
    node.textContent = WITHHELD();
    node.dataset.withheld = "1";
    delete node.dataset.g;
    delete node.dataset.explain;
    node.title = L("人数少于最小分组人数，不予显示", "Fewer people than the minimum group size: not shown");
    return;
  }
  delete node.dataset.withheld;
  node.textContent = mass(grams);
  node.dataset.g = grams;
  node.title = exact(grams);
  if (explainUrl) node.dataset.explain = explainUrl;
  else delete node.dataset.explain;
}

// --- names --------------------------------------------------------------------------------------

function companyName(id) {
  if (!id) return L("（无公司）", "(no company)");
  const names = state.status && state.status.labels.companies[id];
  return names ? L(names.name_zh, names.name_en) : id;
}

function typeName(type) {
  const names = state.status && state.status.labels.activity_types[type];
  return names ? L(names.name_zh, names.name_en) : type;
}

const categoryLabel = (n) => L(`类别 ${n}`, `Cat. ${n}`);

// --- periods ------------------------------------------------------------------------------------

function parsePeriod(text) {
  const match = /^(\d{4})(?:-(Q[1-4]|\d{2}))?$/.exec(text || "");
  if (!match) return null;
  if (!match[2]) return { kind: "year", year: +match[1], part: 0 };
  if (match[2].startsWith("Q")) return { kind: "quarter", year: +match[1], part: +match[2].slice(1) };
  return { kind: "month", year: +match[1], part: +match[2] };
}

function label(p) {
  if (p.kind === "year") return String(p.year);
  if (p.kind === "quarter") return `${p.year}-Q${p.part}`;
  return `${p.year}-${String(p.part).padStart(2, "0")}`;
}

function previousPeriod(p) {
  if (p.kind === "year") return { ...p, year: p.year - 1 };
  const last = p.kind === "quarter" ? 4 : 12;
  return p.part === 1 ? { ...p, year: p.year - 1, part: last } : { ...p, part: p.part - 1 };
}

function chosenPeriod() {
  const kind = $("period-kind").value;
  return { kind, year: +$("period-year").value, part: kind === "year" ? 0 : +$("period-part").value };
}

function fillPeriodParts() {
  const kind = $("period-kind").value;
  const select = $("period-part");
  const chosen = select.value;
  select.hidden = kind === "year";
  const count = kind === "quarter" ? 4 : 12;
  const options = [];
  for (let n = 1; n <= count; n += 1) {
    const text = kind === "quarter" ? `Q${n}` : L(`${n} 月`, new Date(2000, n - 1, 1).toLocaleString("en", { month: "short" }));
    options.push(el("option", { value: String(n) }, text));
  }
  select.replaceChildren(...options);
  if (chosen && +chosen <= count) select.value = chosen;
}

function showPeriod(p) {
  const years = $("period-year");
  const now = new Date().getFullYear();
  const list = [];
  for (let y = now; y >= Math.min(now - 5, p.year); y -= 1) list.push(el("option", { value: String(y) }, String(y)));
  years.replaceChildren(...list);
  $("period-kind").value = p.kind;
  years.value = String(p.year);
  fillPeriodParts();
  if (p.kind !== "year") $("period-part").value = String(p.part);
}

// --- HTTP ---------------------------------------------------------------------------------------

function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

/** Problems as a person reads them: a bad token is "paste a new one", not the decoder's words. */
function humanProblem(status, problem) {
  if (status === 401) {
    return L(
      "令牌无效或已过期。请在上方粘贴新的令牌（园区管理者或企业管理员），或重新登录获取。",
      "This token is not valid or has expired. Paste a new one above (park manager or company admin), or sign in again to get one.",
    );
  }
  if (status === 403) {
    return L(
      "此令牌无权查看该数据：仪表盘需要园区管理者或企业管理员令牌（企业管理员只能查看本企业）。",
      "This token may not see these figures: the dashboard needs a park manager's or a company admin's token (a company admin sees their own company only).",
    );
  }
  const field = problem.errors && problem.errors[0] ? ` (${problem.errors[0].field})` : "";
  return `${problem.title || status}${field}: ${problem.detail || ""}`;
}

async function api(path) {
  let response;
  try {
    response = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  } catch (_) {
    throw new Error(L("无法连接服务器，请检查网络后重试。", "Cannot reach the server; check the connection and try again."));
  }
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch (_) {
      problem = {};
    }
    const error = new Error(humanProblem(response.status, problem));
    error.status = response.status;
    throw error;
  }
  return response;
}

// --- rendering ----------------------------------------------------------------------------------

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  if (text !== "") node.textContent = text;
  return node;
}

function figureLink(grams, explainUrl, testid) {
  const link = el("a", { href: "#", class: "explain", "data-testid": testid });
  setFigure(link, grams, explainUrl);
  return link;
}

function showMessage(text, isError) {
  const box = $("message");
  box.hidden = !text;
  box.textContent = text || "";
  box.className = isError ? "error" : "";
}

const WITHHELD_FIGURE = { co2e_g: null, records: null, explain_url: null };

function category(block, number) {
  if (!block || block.withheld) return WITHHELD_FIGURE;
  return block.inventory.categories.find((c) => c.category === number) || { co2e_g: 0, records: 0 };
}

function blockTotal(block) {
  return !block || block.withheld ? WITHHELD_FIGURE : block.inventory.total;
}

function avoidedTotal(block) {
  return !block || block.withheld ? WITHHELD_FIGURE : block.avoided.total;
}

function periodEnded(p) {
  const next = p.kind === "year" ? new Date(p.year + 1, 0, 1) : p.kind === "quarter" ? new Date(p.year, p.part * 3, 1) : new Date(p.year, p.part, 1);
  return next <= new Date();
}

function renderTrend(node, now, before, previousLabel, lowerIsBetter = true) {
  node.className = "trend";
  if (before === null || before === undefined || now === null || now === undefined) {
    node.textContent = "";
    return;
  }
  if (before === 0) {
    node.textContent = L(`上期 ${previousLabel}：0`, `${previousLabel}: 0`);
    return;
  }
  const change = (now - before) / before;
  const arrow = change > 0 ? "▲" : change < 0 ? "▼" : "＝";
  const good = change === 0 ? "" : (change < 0) === lowerIsBetter ? "better" : "worse";
  node.classList.add(good);
  node.dataset.change = change.toFixed(4);
  node.textContent = `${arrow} ${(Math.abs(change) * 100).toFixed(1)} % ${L("较", "vs")} ${previousLabel} (${mass(before)})`;
}

function renderTarget(node, grams, target) {
  node.hidden = !target || grams === null;
  if (node.hidden) return;
  const used = target.co2e_g ? grams / target.co2e_g : null;
  const bar = el("div", { class: "bar" });
  const fill = el("span", { class: used !== null && used > 1 ? "over" : "" });
  fill.style.width = `${Math.min(100, Math.round((used || 0) * 100))}%`;
  bar.append(fill);
  node.replaceChildren(
    el("span", { "data-g": target.co2e_g }, `${L("目标", "Target")} ${mass(target.co2e_g)} · ${pct(used)}`),
    bar,
  );
  node.title = L(
    `年度目标 ${mass(target.year_co2e_g)} 按天数折算到本期`,
    `Year's target ${mass(target.year_co2e_g)}, pro rata by days for this period`,
  );
}

function renderCards(doc, previous, targets) {
  const block = doc.totals;
  const total = blockTotal(block);
  const prevLabel = previous ? previous.period.label : "";
  const prevBlock = previous ? previous.totals : null;
  setFigure($("total"), total.co2e_g, total.explain_url);
  $("total-records").textContent =
    total.records === null ? WITHHELD() : L(`${total.records} 条记录`, `${total.records} records`);
  renderTrend($("trend-total"), total.co2e_g, prevBlock ? blockTotal(prevBlock).co2e_g : null, prevLabel);
  const byCategory = {};
  for (const t of (targets && targets.targets) || []) byCategory[t.category === null ? "total" : t.category] = t;
  renderTarget($("target-total"), total.co2e_g, byCategory.total);
  for (const number of [5, 6, 7]) {
    const row = category(block, number);
    setFigure($(`cat-${number}`), row.co2e_g, row.explain_url);
    renderTrend($(`trend-${number}`), row.co2e_g, prevBlock ? category(prevBlock, number).co2e_g : null, prevLabel);
    renderTarget($(`target-${number}`), row.co2e_g, byCategory[number]);
  }
  setFigure($("avoided"), avoidedTotal(block).co2e_g, null);
  renderTrend($("trend-avoided"), avoidedTotal(block).co2e_g, prevBlock ? avoidedTotal(prevBlock).co2e_g : null, prevLabel, false);
  if (block.withheld) {
    $("reporting-share").textContent = WITHHELD();
    $("reporting-count").textContent = "";
    $("no-headcount").hidden = true;
    return;
  }
  const quality = block.data_quality;
  $("reporting-share").textContent = pct(quality.reporting_share);
  const counted = quality.employees_reporting_counted ?? quality.employees_reporting;
  $("reporting-count").textContent = `(${counted} / ${quality.headcount === null ? "?" : quality.headcount})`;
  const missing = quality.companies_without_headcount || [];
  $("no-headcount").hidden = missing.length === 0;
  $("no-headcount").textContent = L(
    `未计入（未设员工人数）：${missing.map(companyName).join("、")}`,
    `Not counted (no headcount set): ${missing.map(companyName).join(", ")}`,
  );
  $("primary-share").textContent = pct(quality.primary_data_share_records);
  const estimate = block.extrapolation;
  const box = $("extrapolation");
  box.hidden = !estimate;
  if (estimate) {
    box.replaceChildren(
      el("h3", {}, L("估算（非实测，不计入合计）", "Estimate — not measured, not in any total")),
      el(
        "p",
        { "data-g": estimate.estimate ? estimate.estimate.co2e_g : "" },
        estimate.estimate
          ? `${L("类别 7 未报告员工", "Cat. 7, non-reporting employees")}: ${mass(estimate.estimate.co2e_g)} CO2e`
          : `${L("不可用", "Not available")}: ${estimate.reason || ""}`,
      ),
      el("p", { class: "note" }, L(estimate.method_zh || estimate.note_zh || "", estimate.method_en || estimate.note_en || "")),
    );
  }
}

function renderStatus(doc, status) {
  const period = $("period-status");
  if (doc.status === "closed") {
    const close = doc.close;
    const anchored = status.anchoring.configured && status.anchoring.anchored_tree_size > close.leaf_index;
    period.textContent =
      L(`已关账 ${doc.period.label}（第 ${close.revision} 版，叶 ${close.leaf_index}，${anchored ? "已锚定" : "待锚定"}）`,
        `Closed ${doc.period.label} (rev. ${close.revision}, leaf ${close.leaf_index}, ${anchored ? "anchored" : "awaiting anchor"})`) +
      (doc.changes_since_close.length ? L(` · 关账后变更 ${doc.changes_since_close.length} 项`, ` · ${doc.changes_since_close.length} changes since close`) : "");
    period.className = "closed";
  } else {
    period.textContent = L(`未关账（临时数据）${doc.period.label}`, `Open ${doc.period.label} — provisional`);
    period.className = "open";
  }
  const anchoring = status.anchoring;
  if (!anchoring.configured) {
    $("anchoring").textContent = L("链未配置", "Chain not configured");
  } else {
    const last = anchoring.last_checkpoint;
    $("anchoring").textContent =
      L(`锚定：${anchoring.anchored_tree_size} / ${anchoring.log_size} 叶`, `Anchoring: ${anchoring.anchored_tree_size} / ${anchoring.log_size} leaves`) +
      (last ? L(` · 检查点 #${last.seq}（${last.age_s} 秒前）`, ` · checkpoint #${last.seq} (${last.age_s} s ago)`) : L(" · 尚无检查点", " · no checkpoint yet")) +
      L(` · 落后 ${anchoring.leaves_behind} 叶`, ` · behind: ${anchoring.leaves_behind} leaves`);
    $("anchoring").className = anchoring.leaves_behind > 0 ? "behind" : "ok";
  }
  $("feed").hidden = !status.feed;
  $("feed").textContent = status.feed
    ? L(`推送：待发 ${status.feed.pending}，已送达 ${status.feed.delivered}`, `Feed: ${status.feed.pending} pending, ${status.feed.delivered} delivered`) +
      (status.feed.platform_configured ? "" : L("（未设平台地址）", " (platform URL not set)"))
    : "";
}

function chart(id, config) {
  if (typeof Chart === "undefined") return;
  if (state.charts[id]) state.charts[id].destroy();
  config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options);
  state.charts[id] = new Chart($(id), config);
}

function massScale(values) {
  const top = Math.max(0, ...values);
  return top >= 1e6 ? [1e6, "t CO2e"] : [1e3, "kg CO2e"];
}

function stacked(labels, blocks, unitLabel) {
  return {
    type: "bar",
    data: {
      labels,
      datasets: [7, 6, 5].map((c) => ({
        label: `${categoryLabel(c)} ${state.status.labels.categories[c] ? L(state.status.labels.categories[c].name_zh, state.status.labels.categories[c].name_en) : ""}`,
        backgroundColor: CATEGORY_COLORS[c],
        data: blocks.map((b) => (category(b, c).co2e_g === null ? null : category(b, c).co2e_g / unitLabel[0])),
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: unitLabel[1] } } } },
  };
}

function renderCharts(doc) {
  const block = doc.totals;
  const months = block.months || [];
  const monthScale = massScale(months.map((m) => blockTotal(m).co2e_g || 0));
  chart("chart-trend", stacked(months.map((m) => m.period), months, monthScale));
  const companyScale = massScale(doc.companies.map((b) => blockTotal(b).co2e_g || 0));
  chart("chart-companies", stacked(doc.companies.map((b) => companyName(b.company)), doc.companies, companyScale));
  chart("chart-participation", {
    type: "bar",
    data: {
      labels: doc.companies.map((b) => companyName(b.company)),
      datasets: [
        {
          label: L("报告率 %", "Reporting share %"),
          backgroundColor: "#7e57c2",
          data: doc.companies.map((b) => (b.withheld || b.data_quality.reporting_share === null ? null : b.data_quality.reporting_share * 100)),
        },
      ],
    },
    options: { scales: { y: { min: 0, max: 100 } } },
  });
  const types = (block.activity_types || []).slice(0, 8);
  chart("chart-types", {
    type: "bar",
    data: {
      labels: types.map((t) => typeName(t.type)),
      datasets: [{ label: L("记录", "Records"), backgroundColor: "#26a69a", data: types.map((t) => t.records) }],
    },
    options: { indexAxis: "y" },
  });
}

function headRow(titles) {
  const head = el("tr");
  for (const title of titles) head.append(el("th", {}, title));
  return head;
}

function renderCompanies(doc) {
  const rows = [
    headRow([
      L("公司", "Company"),
      categoryLabel(7),
      categoryLabel(6),
      categoryLabel(5),
      L("合计", "Total"),
      L("减排", "Avoided"),
      L("报告率", "Reporting"),
      L("一手数据", "Primary"),
    ]),
  ];
  for (const block of doc.companies) {
    const row = el("tr", { "data-company": block.company });
    row.append(el("td", { class: "l", "data-testid": `company-${block.company}-name` }, companyName(block.company)));
    if (block.withheld) {
      row.append(el("td", { colspan: "7", class: "withheld", "data-testid": `company-${block.company}-withheld` }, WITHHELD()));
      rows.push(row);
      continue;
    }
    for (const number of [7, 6, 5]) {
      const cell = el("td");
      const cat = category(block, number);
      cell.append(figureLink(cat.co2e_g, cat.explain_url, `company-${block.company}-cat-${number}`));
      row.append(cell);
    }
    const totalCell = el("td");
    const total = block.inventory.total;
    totalCell.append(figureLink(total.co2e_g, total.explain_url, `company-${block.company}-total`));
    row.append(totalCell);
    const avoided = el("td");
    setFigure(avoided, block.avoided.total.co2e_g, null);
    row.append(avoided, el("td", {}, pct(block.data_quality.reporting_share)), el("td", {}, pct(block.data_quality.primary_data_share_records)));
    rows.push(row);
  }
  $("companies-table").replaceChildren(...rows);
}

function renderDepartments(doc) {
  const section = $("departments-section");
  const block = doc.totals;
  section.hidden = !block.departments;
  if (!block.departments) return;
  const rows = [headRow([L("部门", "Department"), L("报告人数", "Reporting"), categoryLabel(7), categoryLabel(6), categoryLabel(5), L("合计", "Total")])];
  for (const dept of block.departments) {
    const row = el("tr");
    row.append(el("td", { class: "l" }, dept.department || L(dept.label_zh, dept.label_en)));
    row.append(el("td", {}, String(dept.employees_reporting)));
    for (const number of [7, 6, 5]) {
      const cell = el("td");
      const cat = category(dept, number);
      cell.append(figureLink(cat.co2e_g, cat.explain_url, `dept-${dept.department || "other"}-cat-${number}`));
      row.append(cell);
    }
    const total = el("td");
    setFigure(total, dept.inventory.total.co2e_g, null);
    row.append(total);
    rows.push(row);
  }
  $("departments-table").replaceChildren(...rows);
  $("privacy-note").textContent =
    L(block.privacy.note_zh, block.privacy.note_en) + L(`（${block.privacy.departments_not_shown} 个未显示）`, ` (${block.privacy.departments_not_shown} not shown)`);
}

function renderMethods(doc) {
  const methodology = doc.methodology;
  $("methods").replaceChildren(
    ...methodology.methods.map((m) => el("li", {}, `${categoryLabel(m.category)}: ${L(m.method_zh, m.method_en)}`)),
    ...methodology.factor_sets.map((s) => el("li", {}, `${L("因子集", "Factor set")} ${s.version} (sha256 ${s.sha256 || "?"}) — ${s.description || ""}`)),
  );
  const rows = [headRow([L("因子", "Factor"), L("值", "Value"), L("单位", "Unit"), L("来源", "Source"), L("年份", "Year"), L("用于", "Used for")])];
  for (const f of methodology.factors) {
    const row = el("tr");
    for (const value of [f.id, f.value, f.unit, f.source, f.year, f.used_for.join(", ")]) row.append(el("td", { class: "l" }, String(value)));
    rows.push(row);
  }
  $("factors-table").replaceChildren(...rows);
  $("rounding").textContent = L(methodology.rounding_zh, methodology.rounding_en);
}

function fillCompanies(doc, status) {
  const select = $("company");
  if (status.role === "company_admin") {
    select.replaceChildren(el("option", { value: status.company }, companyName(status.company)));
    return;
  }
  if (doc.scope.level !== "park" && select.options.length > 1) return;
  const chosen = select.value;
  const options = [el("option", { value: "" }, L("全部公司", "All companies"))];
  for (const block of doc.companies) options.push(el("option", { value: block.company }, companyName(block.company)));
  select.replaceChildren(...options);
  select.value = chosen;
}

function render() {
  const { doc, previous, status, targets } = state;
  fillCompanies(doc, status);
  renderStatus(doc, status);
  renderCards(doc, previous, doc.scope.level === "park" ? targets : null);
  renderCompanies(doc);
  renderDepartments(doc);
  renderMethods(doc);
  $("content").hidden = false;
  renderCharts(doc);
}

async function load() {
  if (!token()) {
    $("content").hidden = true;
    showMessage(L("请在上方输入令牌（园区管理者或企业管理员），或打开 /dashboard?token=…", "Enter a park manager or company admin token above (or open /dashboard?token=…)."));
    document.body.dataset.loaded = "error";
    return;
  }
  const period = chosenPeriod();
  const params = new URLSearchParams({ period: label(period) });
  if ($("company").value) params.set("company", $("company").value);
  if ($("extrapolate").checked) params.set("extrapolate", "true");
  const before = new URLSearchParams({ period: label(previousPeriod(period)) });
  if ($("company").value) before.set("company", $("company").value);
  document.body.dataset.loaded = "false";
  showMessage(L("加载中…", "Loading…"));
  try {
    const [doc, status, targets, previous] = await Promise.all([
      api("/api/v1/scope3/summary?" + params).then((r) => r.json()),
      api("/api/v1/dashboard/status").then((r) => r.json()),
      api("/api/v1/scope3/targets?period=" + label(period)).then((r) => r.json()),
      // the previous period may not exist for this company: no trend then, not an error
      api("/api/v1/scope3/summary?" + before).then((r) => r.json(), () => null),
    ]);
    Object.assign(state, { doc, status, targets, previous });
    const url = new URL(window.location.href);
    url.searchParams.set("period", label(period));
    window.history.replaceState(null, "", url.pathname + url.search);
    render();
    showMessage(periodEnded(period) ? "" : L(`${label(period)} 尚未结束：与上期比较的是截至今天的数据。`, `${label(period)} is not over yet: the comparison uses figures to date.`));
    document.body.dataset.loaded = "true";
  } catch (error) {
    $("content").hidden = true;
    showMessage(error.message, true);
    document.body.dataset.loaded = "error";
  }
}

function renderExplanation(data) {
  if (data.withheld) {
    $("explain-body").replaceChildren(el("p", { class: "note withheld" }, `${WITHHELD()}: ${L(data.privacy.note_zh, data.privacy.note_en)}`));
    return;
  }
  const figure = data.figure;
  const filters = Object.entries(data.filters).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).join(", ");
  const rows = [
    [L("期间", "Period"), `${data.period} (${data.status}, ${L("日志前", "log prefix")} ${data.as_of_tree_size} ${L("叶", "leaves")})`],
    [L("筛选", "Filters"), filters || L("全园区", "park")],
    [L("排放", "Inventory"), `${mass(figure.inventory.co2e_g)} CO2e (${exact(figure.inventory.co2e_g)}, ${figure.records} ${L("条记录", "records")})`],
    [L("减排（单列）", "Avoided (apart)"), `${mass(figure.avoided.co2e_g)} CO2e`],
    [L("方法", "Method"), data.methods.map((m) => `${categoryLabel(m.category)}: ${L(m.method_zh, m.method_en)}`).join("; ")],
    [L("来源", "Sources"), Object.entries(data.sources).map(([k, v]) => `${k}: ${v}`).join(", ")],
    [L("一手数据", "Primary share"), pct(data.primary_data_share_records)],
  ];
  const table = el("table");
  for (const [key, value] of rows) {
    const row = el("tr");
    row.append(el("th", { class: "l" }, key), el("td", { class: "l", "data-g": key === L("排放", "Inventory") ? figure.inventory.co2e_g : null }, value));
    table.append(row);
  }
  const factors = el("table");
  factors.append(headRow([L("因子集", "Set"), L("角色", "Role"), L("因子", "Factor"), L("值", "Value"), L("单位", "Unit"), L("来源", "Source"), L("记录", "Records")]));
  for (const f of data.factors) {
    const row = el("tr");
    for (const value of [f.factor_set, f.role, f.id, f.value, f.unit, `${f.source} (${f.year})`, f.records]) row.append(el("td", { class: "l" }, String(value)));
    factors.append(row);
  }
  const formulas = el("ul");
  formulas.replaceChildren(...data.activity_types.map((t) => el("li", {}, `${typeName(t.type)}: ${t.records} ${L("条记录", "records")} · ${t.formula}`)));
  const wrap = (node) => {
    const box = el("div", { class: "scroll" });
    box.append(node);
    return box;
  };
  $("explain-body").replaceChildren(
    wrap(table),
    el("h3", {}, L("规则", "Rule")),
    el("p", {}, L(data.rule_zh, data.rule_en)),
    el("h3", {}, L("公式", "Formulas")),
    formulas,
    el("h3", {}, L("所用因子", "Factors applied")),
    wrap(factors),
    el("p", { class: "note" }, L(data.rounding_zh, data.rounding_en)),
    el("p", { class: "note" }, L(data.verify_zh, data.verify_en)),
  );
}

async function explain(url) {
  $("explain-panel").hidden = false;
  $("explain-url").textContent = url;
  $("explain-body").textContent = L("加载中…", "Loading…");
  try {
    renderExplanation(await api(url).then((r) => r.json()));
  } catch (error) {
    $("explain-body").textContent = `${L("无法说明", "Cannot explain")}: ${error.message}`;
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
  const stored = localStorage.getItem(LANG_KEY);
  state.lang = stored || ((navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en");
  takeTokenFromUrl();
  const asked = parsePeriod(new URLSearchParams(window.location.search).get("period"));
  showPeriod(asked || { kind: "year", year: new Date().getFullYear(), part: 0 });
  applyWords();
  $("token").value = token();
  $("period-kind").addEventListener("change", () => {
    fillPeriodParts();
    load();
  });
  for (const id of ["period-year", "period-part", "company", "extrapolate"]) $(id).addEventListener("change", load);
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
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, state.lang);
    applyWords();
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
