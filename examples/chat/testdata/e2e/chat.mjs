// Drives headless Chromium pages through the chat: join, talk, switch rooms
// at phone width, leave (SCENARIO=full), or just two pages talking (pair). Run by main_test.go with
//
//	BASE_URL  http://... or https://... of the chat
//	SHOTS     path prefix of the screenshots: SHOTS.png (desktop),
//	          SHOTS-phone.png and SHOTS-phone-rooms.png (375x667)
//	CHROMIUM  the browser
//	SPKI      optional: base64 SHA-256 of the server key's SubjectPublicKeyInfo;
//	          certificate errors are ignored for that key alone
//	SCENARIO  "full" (default) or "pair": two pages, one a phone, exchange a
//	          message; screenshots SHOTS.png and SHOTS-phone.png
//
// Prints "ok" and exits 0 when every check holds.
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const shots = process.env.SHOTS;
const secure = base.startsWith("https:");
const timeout = 15000;
const desktop = { viewport: { width: 1100, height: 760 } };
const phone = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true };

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

async function open(browser, opts) {
  const ctx = await browser.newContext(opts);
  const page = await ctx.newPage();
  page.setDefaultTimeout(timeout);
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`${r.status()} for ${r.url()}`); });
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("websocket", (ws) => {
    if (!ws.url().startsWith(secure ? "wss://" : "ws://")) problems.push("socket " + ws.url());
  });
  await page.goto(base + "/");
  check((await page.title()) === "goes chat", "page title");
  return { ctx, page, problems };
}

async function join(browser, nick, room, opts = desktop) {
  const p = await open(browser, opts);
  await inside(p.page, "#login");
  const card = await p.page.locator("#login").boundingBox();
  check(card.height < p.page.viewportSize().height * 0.8, `the login card is a card (${card.height}px tall)`);
  await p.page.fill("#nick", nick);
  await p.page.fill("#room", room);
  await p.page.click("#join");
  await p.page.locator("#chat").waitFor({ state: "visible" });
  await roomIs(p.page, room);
  return p;
}

const roomIs = (page, room) =>
  page.waitForFunction((r) => document.getElementById("room-name").textContent === r, room, { timeout });

const onlineIs = (page, n) =>
  page.waitForFunction((n) => document.getElementById("online").textContent === n + " online", n, { timeout });

// inside checks that the element lies wholly within the viewport.
async function inside(page, sel) {
  const b = await page.locator(sel).last().boundingBox();
  const v = page.viewportSize();
  check(b && b.x >= 0 && b.y >= 0 && b.x + b.width <= v.width + 0.5 && b.y + b.height <= v.height + 0.5,
    `${sel} within ${v.width}x${v.height}: ${JSON.stringify(b)}`);
}

async function fitsWidth(page) {
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  check(sw <= cw, `no sideways scrolling (${sw} > ${cw})`);
}

// pair: alice on a wide screen and bob on a phone say hello to each other.
async function pair(pages) {
  const a = await join(browser, "alice", "secure");
  pages.push(a);
  await favicon(a.page);
  const b = await join(browser, "bob", "secure", phone);
  pages.push(b);
  await onlineIs(a.page, 2);
  await a.page.fill("#text", "hello bob, over wss");
  await a.page.click("#send");
  await b.page.locator("#messages .msg", { hasText: "hello bob, over wss" }).waitFor();
  await b.page.fill("#text", "hello alice");
  await b.page.tap("#send");
  await a.page.locator("#messages .msg", { hasText: "hello alice" }).waitFor();
  await a.page.screenshot({ path: shots + ".png" });
  await b.page.screenshot({ path: shots + "-phone.png" });
}

async function favicon(page) {
  const icon = await page.evaluate(async () => {
    const r = await fetch("/favicon.ico");
    return [r.status, r.headers.get("content-type")];
  });
  check(icon[0] === 200 && icon[1] === "image/x-icon", "favicon.ico: " + icon);
}

// full: the whole tour, a phone included.
async function full(pages) {
  const a = await join(browser, "alice", "gophers");
  pages.push(a);
  await onlineIs(a.page, 1);
  await favicon(a.page);
  const b = await join(browser, "bob", "gophers");
  pages.push(b);
  await a.page.locator("#messages .notice", { hasText: "bob joined." }).waitFor();
  await onlineIs(a.page, 2);
  await onlineIs(b.page, 2);
  await a.page.locator("#members li", { hasText: "bob" }).waitFor();
  check(await a.page.locator("#side").isVisible(), "the side panel shows on a wide screen");
  check(!(await a.page.locator("#side-toggle").isVisible()), "no panel toggle on a wide screen");
  check(!(await a.page.locator("#side-close").isVisible()), "no panel close button on a wide screen");

  // alice talks, bob sees it
  await a.page.fill("#text", "hello bob, this is alice");
  await a.page.click("#send");
  await b.page.locator("#messages .msg", { hasText: "hello bob, this is alice" }).waitFor();
  check((await b.page.locator("#messages .msg .who").last().textContent()) === "alice", "bob sees who spoke");
  await a.page.locator("#messages .msg.mine", { hasText: "hello bob" }).waitFor();

  // markup from a user stays text
  const evil = `<img src=x onerror="window.pwned=1"><b>bold?</b>`;
  await b.page.fill("#text", evil);
  await b.page.press("#text", "Enter");
  await a.page.locator("#messages .msg .text", { hasText: "<img src=x" }).waitFor();
  check((await a.page.locator("#messages .msg .text").last().textContent()) === evil, "markup shown as text");
  check((await a.page.locator("#messages img, #messages b").count()) === 0, "no element made from user text");
  check((await a.page.evaluate(() => window.pwned)) === undefined, "no script ran");

  // On a phone: carol joins #gophers, reads a long message, opens the
  // rooms panel from the top bar and moves to #lobby, where dave is.
  const d = await join(browser, "dave", "lobby");
  pages.push(d);
  const c = await join(browser, "carol", "gophers", phone);
  pages.push(c);
  await onlineIs(c.page, 4);
  check(!(await c.page.locator("#side").isVisible()), "the side panel is folded away on a phone");
  check(await c.page.locator("#side-toggle").isVisible(), "the panel toggle shows on a phone");
  const long = "a long line to wrap on a narrow screen: " + "wrapping ".repeat(12) + "https://example.com/" + "x".repeat(80);
  await a.page.fill("#text", long);
  await a.page.click("#send");
  await c.page.locator("#messages .msg", { hasText: "a long line" }).waitFor();
  await inside(c.page, "#messages .msg");
  await inside(c.page, "#text");
  await inside(c.page, "#send");
  await inside(c.page, "#online");
  await fitsWidth(c.page);
  await c.page.screenshot({ path: shots + "-phone.png" });

  await c.page.tap("#side-toggle");
  await c.page.locator("#side").waitFor({ state: "visible" });
  await c.page.locator("#rooms li", { hasText: "#lobby" }).waitFor();
  await c.page.locator("#members li", { hasText: "carol (you)" }).waitFor();
  await c.page.waitForTimeout(300); // the panel slides in
  await inside(c.page, "#side");
  check((await c.page.getAttribute("#side-toggle", "aria-expanded")) === "true", "toggle says the panel is open");
  await c.page.screenshot({ path: shots + "-phone-rooms.png" });
  await c.page.mouse.click(360, 400); // the backdrop right of the panel
  await c.page.locator("#side").waitFor({ state: "hidden" });

  await c.page.tap("#side-toggle");
  await c.page.tap("#side-close");
  await c.page.locator("#side").waitFor({ state: "hidden" });
  await c.page.tap("#side-toggle");
  await c.page.tap("#rooms button:has-text('#lobby')");
  await roomIs(c.page, "lobby");
  await c.page.locator("#side").waitFor({ state: "hidden" });
  await d.page.locator("#messages .notice", { hasText: "carol joined." }).waitFor();
  await a.page.locator("#messages .notice", { hasText: "carol left." }).waitFor();
  await c.page.fill("#text", "hi dave, carol here on a phone");
  await c.page.tap("#send");
  await d.page.locator("#messages .msg", { hasText: "carol here on a phone" }).waitFor();
  check((await d.page.locator("#messages .msg .who").last().textContent()) === "carol", "dave sees carol spoke");
  await c.page.locator("#messages .msg.mine", { hasText: "carol here on a phone" }).waitFor();

  // back to #gophers by name, from the panel's room field
  await c.page.tap("#side-toggle");
  await c.page.fill("#new-room", "Gophers");
  await c.page.press("#new-room", "Enter");
  await roomIs(c.page, "gophers");
  await c.page.locator("#side").waitFor({ state: "hidden" });
  await c.page.fill("#text", "back in gophers");
  await c.page.press("#text", "Enter");
  await a.page.locator("#messages .msg", { hasText: "back in gophers" }).waitFor();
  check((await a.page.locator("#messages .msg", { hasText: "carol here on a phone" }).count()) === 0,
    "a message said in #lobby does not reach #gophers");
  await fitsWidth(c.page);

  await a.page.screenshot({ path: shots + ".png" });

  // bob, carol and dave leave
  for (const p of [b, c, d]) await p.ctx.close();
  await a.page.locator("#messages .notice", { hasText: "bob left." }).waitFor();
  await onlineIs(a.page, 1);
  check((await a.page.locator("#members li").count()) === 1, "one member left");
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // launch() gives each run a fresh temporary profile (--user-data-dir).
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    .concat(process.env.SPKI ? ["--ignore-certificate-errors-spki-list=" + process.env.SPKI] : []),
});
const pages = [];
try {
  await (process.env.SCENARIO === "pair" ? pair : full)(pages);
  const problems = pages.flatMap((p) => p.problems);
  check(problems.length === 0, "no page problems: " + problems.join("; "));
  console.log("ok");
} finally {
  await browser.close();
}
