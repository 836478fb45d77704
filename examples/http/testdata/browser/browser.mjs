// Drives headless Chromium through the examples/http site: the manual's
// hello page, the form (urlencoded), a file upload (multipart, large enough
// to be spooled to disk) and the static directory.
//
//	node browser.mjs BASE_URL SCREENSHOT.png [CHROMIUM]
//
// Run by main_test.go; prints "ok" and exits 0 when every check holds.
import { chromium } from "playwright-core";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, shot, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
if (!base || !shot) {
  console.error("usage: node browser.mjs BASE_URL SCREENSHOT [CHROMIUM]");
  process.exit(2);
}
const timeout = 15000;

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

const profile = mkdtempSync(join(tmpdir(), "goes-http-chromium-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1000, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(timeout);
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e));
  page.on("response", (r) => {
    if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) problems.push(`${r.status()} for ${r.url()}`);
  });
  page.on("requestfailed", (r) => {
    if (!r.url().endsWith("/favicon.ico")) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });

  // the manual's example: any page says hello
  let resp = await page.goto(base + "/");
  check(resp.status() === 200, "hello status " + resp.status());
  check((await page.textContent("body")).trim() === "hello, goer", "hello page text");

  // the form, sent as application/x-www-form-urlencoded
  resp = await page.goto(base + "/form");
  check(resp.status() === 200, "form status");
  check((await page.title()) === "goes", "form page title");
  const maxWidth = await page.evaluate(() => getComputedStyle(document.body).maxWidth);
  check(maxWidth !== "none", "the static stylesheet applies (body max-width " + maxWidth + ")");
  const name = "Gopher <b>&</b> co";
  await page.fill("#name", name);
  await page.selectOption("#colour", "green");
  const [formReq] = await Promise.all([
    page.waitForRequest((r) => r.url() === base + "/form" && r.method() === "POST"),
    page.waitForNavigation(),
    page.click("#send"),
  ]);
  check(formReq.headers()["content-type"] === "application/x-www-form-urlencoded", "form encoding " + formReq.headers()["content-type"]);
  check((await page.textContent("#result")) === `Hello ${name}, you like green.`, "form result: " + (await page.textContent("#result")));
  check((await page.locator("#result b").count()) === 0, "form input shown as text, not markup");

  // an upload of 2.5 MB: over the protocol's memory threshold, so spooled to a temp file
  const file = Buffer.alloc(2500000);
  for (let i = 0; i < file.length; i++) file[i] = (i * 7 + (i >> 10)) & 0xff;
  const sum = createHash("sha256").update(file).digest("hex").slice(0, 16);
  await page.setInputFiles("#file", { name: "data.bin", mimeType: "application/octet-stream", buffer: file });
  await page.fill("#note", "from chromium");
  const [upReq] = await Promise.all([
    page.waitForRequest((r) => r.url() === base + "/upload" && r.method() === "POST"),
    page.waitForNavigation(),
    page.click("#upload"),
  ]);
  check(upReq.headers()["content-type"].startsWith("multipart/form-data; boundary="), "upload encoding");
  const got = await page.textContent("#result");
  const want = `Received data.bin (${file.length} bytes, application/octet-stream, sha256 ${sum}). Note: from chromium`;
  check(got === want, `upload result: ${got}\n  want ${want}`);
  await page.screenshot({ path: shot, fullPage: true });

  // the static directory through the page's link
  await Promise.all([page.waitForNavigation(), page.click("text=static files")]);
  check((await page.textContent("#title")) === "Static files served by goes", "static index");
  resp = await page.goto(base + "/static/goer.txt");
  check((await resp.text()).trim() === "hello from a static file", "static file");

  check(problems.length === 0, "problems: " + problems.join("; "));
  console.log("ok");
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
