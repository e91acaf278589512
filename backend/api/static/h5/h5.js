// Carbon Ledger phone page (H5): the employee's activities, points and vouchers, each activity's
// receipt verified here, in the browser, against the chain (verify.js). It is also the reference
// client of the mini-program API: every /mp/v1 endpoint is called from this file.
//
// Tokens live in this tab's sessionStorage. Sign-in is the mini-program's own login
// (POST /mp/v1/auth/login with a login code: `dev:<id>` with the local dev provider; a
// mini-program's web-view may pass its wx.login code as ?code=), or a hand-over from the
// mini-program in the address fragment: #access_token=…&refresh_token=… (taken, then removed).
import { FIELDS } from "./activity-forms.js";
import { fetchRpc, verifyReceipt } from "./verify.js";

const STORE = { access: "carbonLedgerH5Access", refresh: "carbonLedgerH5Refresh" };
const LANG_KEY = "carbonLedgerLang";
const RPC_KEY = "carbonLedgerRpcUrl";
const PAGE = 10;

const $ = (id) => document.getElementById(id);
const state = { lang: "zh", types: {}, chain: null, offsets: { activities: 0, history: 0, vouchers: 0 } };

// --- words ----------------------------------------------------------------------------------------

const WORDS = {
  title: ["碳账本", "Carbon Ledger"],
  "signin.title": ["登录", "Sign in"],
  "signin.help": [
    "输入登录码（本地开发模式：dev:你的编号）；首次登录还需公司发给你的邀请码。",
    "Enter your login code (local development: dev:<your id>); the first time, also the invitation code your company gave you.",
  ],
  "signin.code": ["登录码", "Login code"],
  "signin.invitation": ["邀请码（首次登录）", "Invitation code (first time)"],
  "signin.submit": ["登录", "Sign in"],
  "tab.activities": ["行为", "Activities"],
  "tab.points": ["积分", "Points"],
  "tab.rewards": ["兑换", "Rewards"],
  "tab.me": ["我的", "Me"],
  "log.title": ["记录一次低碳行为", "Log a low-carbon activity"],
  "log.type": ["类型", "Type"],
  "log.when": ["时间", "When"],
  "log.submit": ["记录", "Record"],
  "activities.title": ["我的低碳行为", "My activities"],
  more: ["更多", "More"],
  "points.balance": ["积分余额", "Points balance"],
  "points.history": ["积分明细", "Points history"],
  "rewards.title": ["可兑换的奖励", "Rewards you can redeem"],
  "vouchers.title": ["我的兑换券", "My vouchers"],
  "me.title": ["我的身份", "Who I am"],
  "me.signout": ["退出登录", "Sign out"],
  "board.title": ["排行榜", "Leaderboards"],
  "board.alias": ["昵称（可选）", "Alias (optional)"],
  "board.join": ["加入", "Join"],
  "board.leave": ["退出", "Leave"],
  "bindings.title": ["绑定的账户", "Bound accounts"],
  "bindings.kind": ["类型", "Kind"],
  "bindings.identifier": ["卡号/账号", "Card or account number"],
  "bindings.label": ["备注", "Label"],
  "bindings.code": ["绑定码（向卡或账户的运营方获取）", "Binding code (from the card's or account's operator)"],
  "bindings.consent": [
    "我同意用该账户的出行记录为我记录低碳出行。",
    "I agree that this account's records are used to credit my low-carbon trips.",
  ],
  "bindings.add": ["绑定", "Bind"],
  "chain.title": ["区块链", "Chain"],
  "chain.rpc": ["RPC 地址", "RPC URL"],
  "chain.save": ["保存", "Save"],
  footer: [
    "凭证在本机浏览器中校验：叶哈希与审计路径用 WebCrypto 计算，根直接从区块链读取，无需信任服务器。",
    "Receipts are verified in this browser: leaf hash and audit path with WebCrypto, the root read straight from the chain — no need to trust our server.",
  ],
  verify: ["校验", "Verify"],
  verifying: ["校验中…", "Verifying…"],
  valid: ["有效", "Valid"],
  invalid: ["无效", "Not valid"],
  unverified: ["无法校验", "Could not verify"],
  pending: ["等待上链锚定", "Waiting for the on-chain anchor"],
  avoided: ["减排", "avoided"],
  points: ["积分", "points"],
  redeem: ["兑换", "Redeem"],
  cancel: ["取消并退还积分", "Cancel for a refund"],
  issued: ["可使用", "issued"],
  used: ["已使用", "used"],
  cancelled: ["已取消", "cancelled"],
  used: ["已核销", "used"],
  stock: ["库存", "stock"],
  code: ["券码", "Code"],
  until: ["可取消至", "cancellable until"],
  revoke: ["解除绑定", "Withdraw consent"],
  revoked: ["已解除", "withdrawn"],
  "board.in": ["已加入排行榜，显示为", "On the leaderboards as"],
  "board.out": ["未加入排行榜（只有加入者才会出现）", "Not on the leaderboards (only those who join appear)"],
  "board.company": ["公司榜", "Company"],
  "board.department": ["部门榜", "Department"],
  "board.departments": ["部门人均", "Departments per member"],
  "board.hidden": ["人数不足，暂不显示", "Too few people to show"],
  loading: ["加载中…", "Loading…"],
  recorded: ["已记录", "Recorded"],
  expiring: ["即将过期", "expiring"],
  earned: ["累计获得", "earned"],
  redeemedTotal: ["已兑换", "redeemed"],
  empty: ["暂无", "Nothing yet"],
  company: ["公司", "company"],
  department: ["部门", "department"],
  chainInfo: ["链 ID", "Chain id"],
  contract: ["合约", "contract"],
  rpcSaved: ["已保存 RPC 地址", "RPC URL saved"],
  signedOut: ["已退出登录", "Signed out"],
};

const KIND_WORDS = {
  issuance: ["行为奖励", "earned"],
  allocation: ["分配", "allocation"],
  award: ["奖励", "award"],
  redemption: ["兑换", "redemption"],
  refund: ["退还", "refund"],
  expiry: ["过期", "expiry"],
  correction: ["更正", "correction"],
};
const BINDING_KINDS = {
  transit_card: ["公交/地铁卡", "Transit card"],
  bike_account: ["共享单车账户", "Bike-share account"],
  ev_account: ["充电账户", "EV charging account"],
  recycling_card: ["回收卡", "Recycling card"],
};

const t = (key) => {
  const pair = WORDS[key] || KIND_WORDS[key];
  return pair ? pair[state.lang === "zh" ? 0 : 1] : key;
};
const pick = (pair) => pair[state.lang === "zh" ? 0 : 1];

function applyWords() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang").textContent = state.lang === "zh" ? "English" : "中文";
  document.title = t("title");
}

// --- the activity form: which quantities each type needs -----------------------------------------

// FIELDS: per type, [{name, zh, en, kind: "number", step} | {name, zh, en, kind: "select", options}],
// served from the activity-type registry (backend/domain/accounting/activity_types.py).
const fieldsOf = (type) => FIELDS[type] || [];

// --- HTTP -----------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function saveTokens(tokens) {
  sessionStorage.setItem(STORE.access, tokens.access_token);
  sessionStorage.setItem(STORE.refresh, tokens.refresh_token);
}

function clearTokens() {
  sessionStorage.removeItem(STORE.access);
  sessionStorage.removeItem(STORE.refresh);
}

async function send(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  const access = sessionStorage.getItem(STORE.access);
  if (access) init.headers.Authorization = `Bearer ${access}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

async function refreshTokens() {
  const refresh = sessionStorage.getItem(STORE.refresh);
  if (!refresh) return false;
  const response = await fetch("/mp/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: refresh }),
  });
  if (!response.ok) return false;
  saveTokens(await response.json());
  return true;
}

/** Calls the API; on 401 rotates the refresh token once and tries again; problems become ApiError. */
async function api(method, path, body, headers) {
  let response = await send(method, path, body, headers);
  if (response.status === 401 && (await refreshTokens())) response = await send(method, path, body, headers);
  if (response.status === 401) {
    clearTokens();
    showView("signin");
  }
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch (_) {
      problem = {};
    }
    throw new ApiError(response.status, problem);
  }
  return response.status === 204 ? null : { status: response.status, body: await response.json() };
}

const get = async (path) => (await api("GET", path)).body;
const newKey = () =>
  globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : `h5-${Date.now()}-${Math.random().toString(16).slice(2)}`;

// --- display helpers ------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function showMessage(text, isError = false) {
  const box = $("message");
  box.hidden = !text;
  box.textContent = text || "";
  box.className = isError ? "error" : "";
}

const fail = (error) => showMessage(error.message, true);

function kg(grams) {
  const value = grams / 1000;
  const digits = Math.abs(value) >= 100 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
  return `${value.toLocaleString(state.lang === "zh" ? "zh-CN" : "en-US", { maximumFractionDigits: digits })} kg`;
}

const when = (iso) =>
  new Date(iso).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
const typeName = (type) => (state.types[type] ? pick([state.types[type].name_zh, state.types[type].name_en]) : type);
const rewardName = (zh, en) => (state.lang === "zh" && zh ? zh : en);

function showView(view) {
  document.body.dataset.view = view;
  $("signin").hidden = view !== "signin";
  $("app").hidden = view !== "app";
}

function showTab(tab) {
  showMessage("");
  for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== tab;
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.classList.toggle("active", button.dataset.tab === tab);
  }
  const loaders = { activities: loadActivities, points: loadPoints, rewards: loadRewards, me: loadMe };
  document.body.dataset.busy = "true";
  loaders[tab](true)
    .catch(fail)
    .finally(() => {
      document.body.dataset.busy = "false";
    });
}

// --- activities and their receipts ----------------------------------------------------------------

function rpc() {
  const url = localStorage.getItem(RPC_KEY) || (state.chain && state.chain.rpc_url);
  return url ? fetchRpc(url) : null;
}

function renderVerdict(box, result) {
  const verdict = el("p", { class: "verdict", "data-testid": "verdict" }, `${result.outcome === "valid" ? "✓" : result.outcome === "invalid" ? "✗" : "?"} ${t(result.outcome)}`);
  const summary = el("p", { class: "summary" }, state.lang === "zh" ? result.zh : result.en);
  const list = el("ul", { class: "checks" });
  for (const check of result.checks) {
    list.append(el("li", { class: check.ok ? "ok" : "bad", "data-check": check.id }, `${check.ok ? "✓" : "✗"} ${state.lang === "zh" ? check.zh : check.en}`));
  }
  box.className = `result ${result.outcome}`;
  box.dataset.outcome = result.outcome;
  box.replaceChildren(verdict, summary, list);
}

async function verifyActivity(id, box) {
  box.className = "result";
  box.dataset.outcome = "running";
  box.textContent = t("verifying");
  try {
    const activity = await get(`/mp/v1/activities/${encodeURIComponent(id)}`);
    const answer = await api("GET", activity.receipt_url);
    if (answer.status === 202) {
      box.className = "result pending";
      box.dataset.outcome = "pending";
      box.textContent = `${t("pending")} · ${state.lang === "zh" ? answer.body.message_zh : answer.body.message}`;
      return;
    }
    const result = await verifyReceipt(answer.body, { rpc: rpc(), expect: { kind: "activity", id: activity.id } });
    renderVerdict(box, result);
  } catch (error) {
    box.className = "result unverified";
    box.dataset.outcome = "unverified";
    box.textContent = `${t("unverified")}: ${error.message}`;
  }
}

function activityItem(a) {
  const box = el("div", { class: "result", "data-testid": `verify-result-${a.id}` });
  const button = el("button", { type: "button", "data-testid": `verify-${a.id}`, onclick: () => verifyActivity(a.id, box) }, t("verify"));
  const status = a.status === "accepted" ? "" : ` · ${a.status}`;
  return el(
    "li",
    { "data-activity": a.id },
    el("div", { class: "row" }, el("b", {}, typeName(a.type)), el("span", { class: "note" }, when(a.occurred_at))),
    el("div", { class: "row" }, el("span", {}, `${t("avoided")} ${kg(a.co2e_avoided_g)} · +${a.points} ${t("points")}${status}`), button),
    box,
  );
}

async function loadActivities(reset) {
  if (reset) state.offsets.activities = 0;
  const page = await get(`/mp/v1/activities?limit=${PAGE}&offset=${state.offsets.activities}`);
  const list = $("activities");
  const items = page.items.map(activityItem);
  if (reset) list.replaceChildren(...(items.length ? items : [el("li", { class: "note" }, t("empty"))]));
  else list.append(...items);
  state.offsets.activities += page.items.length;
  $("activities-more").hidden = state.offsets.activities >= page.total;
}

function fillLogForm() {
  const select = $("log-type");
  const chosen = select.value;
  select.replaceChildren(...Object.keys(state.types).map((type) => el("option", { value: type }, typeName(type))));
  if (chosen) select.value = chosen;
  renderLogFields();
}

function renderLogFields() {
  const fields = fieldsOf($("log-type").value).map((f) => {
    const input =
      f.kind === "select"
        ? el("select", { name: f.name, "data-testid": `log-${f.name}` }, ...f.options.map((o) => el("option", { value: o }, o)))
        : el("input", { name: f.name, type: "number", min: "0", step: f.step, required: "", "data-testid": `log-${f.name}` });
    return el("label", {}, el("span", {}, pick([f.zh, f.en])), " ", input);
  });
  $("log-fields").replaceChildren(...fields);
}

function localIso(value) {
  // datetime-local gives no offset; the API wants one: this phone's own.
  const date = new Date(value);
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${value.length === 16 ? value + ":00" : value}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

async function logActivity(event) {
  event.preventDefault();
  const type = $("log-type").value;
  const body = { type, occurred_at: localIso($("log-when").value) };
  for (const f of fieldsOf(type)) {
    const value = $("log-fields").querySelector(`[name="${f.name}"]`).value;
    body[f.name] = f.kind === "number" ? Number(value) : value;
  }
  try {
    const answer = await api("POST", "/mp/v1/activities", body, { "Idempotency-Key": newKey() });
    const a = answer.body;
    $("log-result").textContent = `${t("recorded")}: ${typeName(a.type)} · ${t("avoided")} ${kg(a.co2e_avoided_g)} · +${a.points} ${t("points")}`;
    await loadActivities(true);
  } catch (error) {
    $("log-result").textContent = error.message;
  }
}

// --- points ---------------------------------------------------------------------------------------

async function loadPoints(reset) {
  if (reset) {
    state.offsets.history = 0;
    const points = await get("/mp/v1/points");
    $("balance").textContent = points.balance;
    const parts = [`${t("earned")} ${points.earned}`, `${t("redeemedTotal")} ${points.redeemed}`];
    if (points.expiring) parts.push(`${t("expiring")} ${points.expiring.points} (${when(points.expiring.by)})`);
    $("balance-detail").textContent = parts.join(" · ");
  }
  const page = await get(`/mp/v1/points/history?limit=${PAGE}&offset=${state.offsets.history}`);
  const items = page.items.map((line) => {
    const what = line.activity ? typeName(line.activity.type) : line.reward ? rewardName(line.reward.name_zh, line.reward.name) : "";
    return el(
      "li",
      {},
      el("div", { class: "row" }, el("b", {}, `${line.amount > 0 ? "+" : ""}${line.amount}`), el("span", { class: "note" }, when(line.at))),
      el("div", { class: "note" }, `${t(line.kind)} ${what} · ${line.balance_after}`),
    );
  });
  if (reset) $("history").replaceChildren(...(items.length ? items : [el("li", { class: "note" }, t("empty"))]));
  else $("history").append(...items);
  state.offsets.history += page.items.length;
  $("history-more").hidden = state.offsets.history >= page.total;
}

// --- rewards and vouchers -------------------------------------------------------------------------

async function redeem(rewardId) {
  try {
    const answer = await api("POST", "/mp/v1/redemptions", { reward_id: rewardId }, { "Idempotency-Key": newKey() });
    showMessage(`${t("code")} ${answer.body.voucher_code}`);
    await loadRewards(true);
  } catch (error) {
    fail(error);
  }
}

async function cancelVoucher(id) {
  try {
    await api("POST", `/mp/v1/redemptions/${encodeURIComponent(id)}/cancel`);
    await loadRewards(true);
  } catch (error) {
    fail(error);
  }
}

async function showVoucher(id, box) {
  const v = await get(`/mp/v1/redemptions/${encodeURIComponent(id)}`);
  box.replaceChildren(el("p", { class: "code", "data-testid": `code-${v.id}` }, v.voucher_code));
  box.hidden = false;
  if (v.voucher_qr_url) {
    // The QR code carries the park's signature; the merchant's page checks it before the server.
    const response = await send("GET", v.voucher_qr_url);
    if (response.ok) {
      const svg = await response.text();
      const src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svg)))}`;
      box.append(el("img", { class: "qr", src, alt: v.voucher_code, "data-testid": `qr-${v.id}` }));
    }
  }
}

function voucherItem(v) {
  const box = el("div", { class: "voucher", hidden: "" });
  const actions = el("div", { class: "row" });
  actions.append(el("button", { type: "button", "data-testid": `show-${v.id}`, onclick: () => showVoucher(v.id, box).catch(fail) }, t("code")));
  if (v.status === "issued" && new Date(v.cancellable_until) > new Date()) {
    actions.append(el("button", { type: "button", "data-testid": `cancel-${v.id}`, onclick: () => cancelVoucher(v.id) }, t("cancel")));
  }
  return el(
    "li",
    { "data-voucher": v.id, "data-status": v.status },
    el("div", { class: "row" }, el("b", {}, rewardName(v.reward_name_zh, v.reward_name)), el("span", { class: `status ${v.status}` }, t(v.status))),
    el("div", { class: "note" }, `${v.price_points} ${t("points")} · ${when(v.created_at)}`),
    actions,
    box,
  );
}

async function loadRewards(reset) {
  if (reset) {
    state.offsets.vouchers = 0;
    const rewards = await get("/mp/v1/rewards");
    const items = rewards.items.map((r) =>
      el(
        "li",
        { "data-reward": r.id },
        el("div", { class: "row" }, el("b", {}, rewardName(r.name_zh, r.name)), el("span", {}, `${r.price_points} ${t("points")}`)),
        el("div", { class: "row" }, el("span", { class: "note" }, `${t("stock")} ${r.stock}`), el("button", { type: "button", "data-testid": `redeem-${r.id}`, onclick: () => redeem(r.id) }, t("redeem"))),
      ),
    );
    $("rewards").replaceChildren(...(items.length ? items : [el("li", { class: "note" }, t("empty"))]));
  }
  const page = await get(`/mp/v1/redemptions?limit=${PAGE}&offset=${state.offsets.vouchers}`);
  const items = page.items.map(voucherItem);
  if (reset) $("vouchers").replaceChildren(...(items.length ? items : [el("li", { class: "note" }, t("empty"))]));
  else $("vouchers").append(...items);
  state.offsets.vouchers += page.items.length;
  $("vouchers-more").hidden = state.offsets.vouchers >= page.total;
}

// --- me: identity, leaderboards, bindings, chain --------------------------------------------------

function boardTable(title, board) {
  if (!board.available) return el("p", { class: "note" }, `${title}: ${t("board.hidden")}`);
  const rows = board.entries.map((e) => el("tr", { class: e.me ? "me" : "" }, el("td", {}, e.rank), el("td", {}, e.name), el("td", {}, e.points)));
  return el("div", {}, el("h3", {}, `${title} · ${board.period}`), el("table", {}, ...rows));
}

async function loadBoards() {
  const status = await get("/mp/v1/leaderboards/opt-in");
  $("board-status").textContent = status.opted_in ? `${t("board.in")} ${status.display_name}` : t("board.out");
  $("board-leave").hidden = !status.opted_in;
  const [company, department, departments] = await Promise.all([
    get("/mp/v1/leaderboards/company"),
    get("/mp/v1/leaderboards/department"),
    get("/mp/v1/leaderboards/departments"),
  ]);
  const perMember = el(
    "table",
    {},
    ...departments.departments.map((d) => el("tr", {}, ...Object.values(d).map((v) => el("td", {}, String(v))))),
  );
  $("boards").replaceChildren(
    boardTable(t("board.company"), company),
    boardTable(t("board.department"), department),
    el("div", {}, el("h3", {}, `${t("board.departments")} · ${departments.period}`), perMember),
  );
}

async function loadBindings() {
  const bindings = await get("/mp/v1/bindings");
  const items = bindings.map((b) => {
    const item = el("li", { "data-binding": b.id }, el("div", { class: "row" }, el("b", {}, pick(BINDING_KINDS[b.kind] || [b.kind, b.kind])), el("span", { class: "note" }, b.label || "")));
    if (b.revoked_at) item.append(el("div", { class: "note" }, t("revoked")));
    else item.append(el("button", { type: "button", "data-testid": `revoke-${b.id}`, onclick: () => revokeBinding(b.id) }, t("revoke")));
    return item;
  });
  $("bindings").replaceChildren(...(items.length ? items : [el("li", { class: "note" }, t("empty"))]));
}

async function revokeBinding(id) {
  try {
    await api("DELETE", `/mp/v1/bindings/${encodeURIComponent(id)}`);
    await loadBindings();
  } catch (error) {
    fail(error);
  }
}

async function loadMe() {
  const me = await get("/mp/v1/me");
  $("me").textContent = `${me.employee_id} · ${t("company")} ${me.company_id || "—"} · ${t("department")} ${me.department_id || "—"}`;
  const chain = state.chain;
  $("chain").textContent = chain && chain.configured ? `${t("chainInfo")} ${chain.chain_id} · ${t("contract")} ${chain.contract}` : "—";
  $("rpc-url").value = localStorage.getItem(RPC_KEY) || (chain && chain.rpc_url) || "";
  $("binding-kind").replaceChildren(...Object.entries(BINDING_KINDS).map(([k, pair]) => el("option", { value: k }, pick(pair))));
  await Promise.all([loadBoards(), loadBindings()]);
}

// --- start ----------------------------------------------------------------------------------------

function takeHandOver() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  if (fragment.get("access_token")) {
    saveTokens({ access_token: fragment.get("access_token"), refresh_token: fragment.get("refresh_token") || "" });
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
}

async function signIn(code, invitation) {
  const body = { code };
  if (invitation) body.invitation_code = invitation;
  const response = await fetch("/mp/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new ApiError(response.status, answer);
  saveTokens(answer);
}

async function start() {
  showMessage("");
  if (!sessionStorage.getItem(STORE.access)) {
    showView("signin");
    return;
  }
  showView("app");
  showTab("activities");
}

function wire() {
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, state.lang);
    applyWords();
    fillLogForm();
    if (document.body.dataset.view === "app") showTab(document.querySelector("[data-tab].active").dataset.tab);
  });
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await signIn($("login-code").value.trim(), $("invitation").value.trim());
      await start();
    } catch (error) {
      fail(error);
    }
  });
  for (const button of document.querySelectorAll("[data-tab]")) button.addEventListener("click", () => showTab(button.dataset.tab));
  $("log-type").addEventListener("change", renderLogFields);
  $("log-form").addEventListener("submit", logActivity);
  $("activities-more").addEventListener("click", () => loadActivities(false).catch(fail));
  $("history-more").addEventListener("click", () => loadPoints(false).catch(fail));
  $("vouchers-more").addEventListener("click", () => loadRewards(false).catch(fail));
  $("signout").addEventListener("click", async () => {
    const refresh = sessionStorage.getItem(STORE.refresh);
    if (refresh) await api("POST", "/mp/v1/auth/logout", { refresh_token: refresh }).catch(() => null);
    clearTokens();
    showView("signin");
    showMessage(t("signedOut"));
  });
  $("board-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const alias = $("board-alias").value.trim();
    await api("PUT", "/mp/v1/leaderboards/opt-in", alias ? { alias } : {}).then(loadBoards).catch(fail);
  });
  $("board-leave").addEventListener("click", () => api("DELETE", "/mp/v1/leaderboards/opt-in").then(loadBoards).catch(fail));
  $("binding-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { kind: $("binding-kind").value, identifier: $("binding-identifier").value.trim(), consent: $("binding-consent").checked };
    if ($("binding-label").value.trim()) body.label = $("binding-label").value.trim();
    if ($("binding-code").value.trim()) body.code = $("binding-code").value.trim();
    await api("POST", "/mp/v1/bindings", body)
      .then(() => {
        $("binding-identifier").value = "";
        $("binding-code").value = "";
        return loadBindings();
      })
      .catch(fail);
  });
  $("rpc-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = $("rpc-url").value.trim();
    if (url) localStorage.setItem(RPC_KEY, url);
    else localStorage.removeItem(RPC_KEY);
    showMessage(t("rpcSaved"));
  });
}

async function init() {
  const stored = localStorage.getItem(LANG_KEY);
  state.lang = stored || ((navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en");
  applyWords();
  wire();
  takeHandOver();
  const now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000);
  $("log-when").value = now.toISOString().slice(0, 16);
  try {
    const [types, chain] = await Promise.all([
      fetch("/mp/v1/activity-types").then((r) => r.json()),
      fetch("/mp/v1/chain").then((r) => r.json()),
    ]);
    for (const item of types.items) state.types[item.type] = item;
    state.chain = chain;
    fillLogForm();
  } catch (error) {
    fail(error);
  }
  const code = new URLSearchParams(window.location.search).get("code");
  if (code && !sessionStorage.getItem(STORE.access)) {
    window.history.replaceState(null, "", window.location.pathname);
    await signIn(code, null).catch(fail);
  }
  await start();
  document.body.dataset.ready = "true";
}

init();
