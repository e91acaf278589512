// The merchant's till page: look a voucher up (typed, pasted or scanned), check the park's signature
// on a scanned QR code in the browser (WebCrypto, ECDSA P-256) before asking the server, and mark
// the voucher used. No build step, no library: the browser's own BarcodeDetector scans when present.

const TOKEN_KEY = "carbon-ledger.merchant.token";
const LANG_KEY = "carbon-ledger.merchant.lang";
const QR_TEXT = /^CLV1\.(CL-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\.(\d{1,12})\.([A-Za-z0-9_-]{86})$/;

const TEXT = {
  title: ["兑换券核销", "Voucher till"],
  "signin.title": ["商户登录", "Merchant sign-in"],
  "signin.user": ["用户名", "Username"],
  "signin.password": ["密码", "Password"],
  "signin.submit": ["登录", "Sign in"],
  "lookup.label": ["券码或二维码内容", "Voucher code or QR text"],
  "lookup.submit": ["查询", "Look up"],
  "lookup.scan": ["扫码", "Scan"],
  "v.code": ["券码", "Code"],
  "v.state": ["状态", "State"],
  "v.points": ["积分", "Points"],
  "v.expires": ["有效期至", "Valid until"],
  "v.use": ["核销", "Mark used"],
  "state.usable": ["可核销", "Can be used"],
  "state.used": ["已核销", "Already used"],
  "state.cancelled": ["已取消", "Cancelled"],
  "state.expired": ["已过期", "Expired"],
  "state.forged": ["伪造，拒绝", "Forged, refused"],
  "sig.ok": ["✓ 园区签名有效", "✓ Park signature valid"],
  "sig.typed": ["手输券码：由服务器核对", "Typed code: checked by the server"],
  "sig.bad": ["✗ 签名无效：伪造或损坏的二维码，拒绝", "✗ Signature invalid: forged or damaged QR code, refused"],
  "sig.expired": ["✗ 二维码已过期，拒绝", "✗ QR code expired, refused"],
  "msg.used": ["已核销", "Marked used"],
  "msg.signedOut": ["请登录", "Please sign in"],
  "msg.camera": ["无法打开摄像头，请手动输入券码", "Camera unavailable: type the code"],
};

const state = { lang: "zh", token: null, key: null, voucher: null };
const $ = (id) => document.getElementById(id);
const t = (key) => (TEXT[key] ? TEXT[key][state.lang === "zh" ? 0 : 1] : key);

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang").textContent = state.lang === "zh" ? "English" : "中文";
  if (state.voucher) showVoucher(state.voucher.body, state.voucher.signature);
}

function say(text, error = false) {
  const box = $("message");
  box.textContent = text;
  box.className = error ? "error" : "";
  box.hidden = !text;
}

function show(view) {
  document.body.dataset.view = view;
  $("signin").hidden = view !== "signin";
  $("till").hidden = view !== "till";
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    show("signin");
  }
  if (!response.ok) {
    const title = state.lang === "zh" ? data.title_zh : data.title_en;
    throw new Error(`${title || response.status}: ${data.detail || ""}`);
  }
  return data;
}

// --- the park's signature -----------------------------------------------------------------------

function fromBase64Url(text) {
  const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(plain, (c) => c.charCodeAt(0));
}

async function parkKey() {
  if (!state.key) {
    const { jwk } = await api("GET", "/api/v1/vouchers/key");
    state.key = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  }
  return state.key;
}

/** A scanned text's verdict before anything is asked of the server: "ok", "bad" or "expired". */
export async function checkSignature(text) {
  const found = QR_TEXT.exec(text);
  if (!found) return "bad";
  const [, code, expires, signature] = found;
  const signed = new TextEncoder().encode(`CLV1.${code}.${expires}`);
  let valid = false;
  try {
    valid = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, await parkKey(), fromBase64Url(signature), signed);
  } catch {
    valid = false;
  }
  if (!valid) return "bad";
  return Date.now() / 1000 >= +expires ? "expired" : "ok";
}

// --- the till ----------------------------------------------------------------------------------

function showVoucher(body, signature) {
  state.voucher = { body, signature };
  $("voucher").hidden = false;
  const sig = $("signature");
  sig.textContent = t(`sig.${signature}`);
  sig.className = `sig ${signature === "ok" || signature === "typed" ? "ok" : "bad"}`;
  const forged = !body;
  $("reward-name").textContent = forged ? "—" : (state.lang === "zh" && body.reward.name_zh) || body.reward.name;
  $("reward-desc").textContent = forged ? "" : body.reward.description || "";
  $("v-code").textContent = forged ? "—" : body.code;
  const stateCell = $("v-state");
  stateCell.textContent = forged ? t(signature === "expired" ? "state.expired" : "state.forged") : t(`state.${body.state}`);
  stateCell.className = forged ? "state-forged" : `state-${body.state}`;
  stateCell.dataset.state = forged ? "forged" : body.state;
  $("v-points").textContent = forged ? "—" : String(body.price_points);
  $("v-expires").textContent = forged || !body.expires_at ? "—" : new Date(body.expires_at).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
  const refusal = $("refusal");
  const reason = forged ? null : state.lang === "zh" ? body.refusal_zh : body.refusal_en;
  refusal.hidden = !reason;
  refusal.textContent = reason || "";
  $("use").disabled = forged || body.state !== "usable";
}

async function lookUp(text) {
  say("");
  text = text.trim();
  let signature = "typed";
  if (text.startsWith("CLV1.")) {
    signature = await checkSignature(text);
    if (signature !== "ok") {
      showVoucher(null, signature); // refused at the till: the server is never asked
      return;
    }
  }
  try {
    showVoucher(await api("GET", `/api/v1/vouchers/${encodeURIComponent(text)}`), signature);
  } catch (error) {
    $("voucher").hidden = true;
    state.voucher = null;
    say(error.message, true);
  }
}

async function markUsed() {
  if (!state.voucher || !state.voucher.body) return;
  $("use").disabled = true;
  try {
    const body = await api("POST", `/api/v1/vouchers/${encodeURIComponent(state.voucher.body.code)}/use`);
    showVoucher(body, state.voucher.signature);
    say(`${t("msg.used")}: ${body.code}`);
  } catch (error) {
    say(error.message, true);
    await lookUp(state.voucher.body.code);
  }
}

async function scan() {
  const video = $("camera");
  try {
    const detector = new BarcodeDetector({ formats: ["qr_code"] });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const stop = () => { stream.getTracks().forEach((track) => track.stop()); video.hidden = true; };
    const tick = async () => {
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length) {
        stop();
        $("code").value = codes[0].rawValue;
        await lookUp(codes[0].rawValue);
      } else if (!video.hidden) {
        requestAnimationFrame(tick);
      }
    };
    requestAnimationFrame(tick);
  } catch {
    say(t("msg.camera"), true);
  }
}

function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search);
  }
  state.token = sessionStorage.getItem(TOKEN_KEY);
}

function init() {
  state.lang = localStorage.getItem(LANG_KEY) || ((navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en");
  takeTokenFromUrl();
  applyLanguage();
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, state.lang);
    applyLanguage();
  });
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await api("POST", "/api/v1/auth/token", { username: $("username").value, password: $("password").value });
      state.token = answer.access_token;
      sessionStorage.setItem(TOKEN_KEY, state.token);
      say("");
      show("till");
    } catch (error) {
      say(error.message, true);
    }
  });
  $("lookup-form").addEventListener("submit", (event) => {
    event.preventDefault();
    lookUp($("code").value);
  });
  $("use").addEventListener("click", markUsed);
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    $("scan").hidden = false;
    $("scan").addEventListener("click", scan);
  }
  show(state.token ? "till" : "signin");
  if (!state.token) say(t("msg.signedOut"));
}

init();
