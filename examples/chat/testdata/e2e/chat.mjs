// Drives two headless Chromium pages through the chat: join, talk, leave.
// Run by main_test.go with BASE_URL, SCREENSHOT and CHROMIUM set; prints
// "ok" and exits 0 when every check holds.
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const shot = process.env.SCREENSHOT;
const timeout = 15000;

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

async function join(browser, nick, room) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(timeout);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/");
  check((await page.title()) === "goes chat", "page title");
  await page.fill("#nick", nick);
  await page.fill("#room", room);
  await page.click("#join");
  await page.locator("#chat").waitFor({ state: "visible" });
  check((await page.textContent("#room-name")) === room, nick + " sees the room name");
  return { ctx, page, errors };
}

const onlineIs = (page, n) =>
  page.waitForFunction((n) => document.getElementById("online").textContent === n + " online", n, { timeout });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const a = await join(browser, "alice", "gophers");
  await onlineIs(a.page, 1);
  const b = await join(browser, "bob", "gophers");
  await a.page.locator("#messages .notice", { hasText: "bob joined." }).waitFor();
  await onlineIs(a.page, 2);
  await onlineIs(b.page, 2);
  await a.page.locator("#members li", { hasText: "bob" }).waitFor();

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

  await a.page.screenshot({ path: shot, fullPage: true });

  // bob leaves
  await b.ctx.close();
  await a.page.locator("#messages .notice", { hasText: "bob left." }).waitFor();
  await onlineIs(a.page, 1);
  check((await a.page.locator("#members li").count()) === 1, "one member left");
  check(a.errors.length === 0 && b.errors.length === 0, "no page errors: " + a.errors.concat(b.errors).join("; "));
  await a.ctx.close();
  console.log("ok");
} finally {
  await browser.close();
}
