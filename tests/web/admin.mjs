// Drives the web admin in Debian's headless Chromium (playwright-core, no
// browser download): logs in with a tenant admin's token, reads the licence
// page, opens a user and switches a plugin on for them, and saves
// screenshots of the main pages. Called by tests/tests/web_admin.rs:
//
//   node admin.mjs <base-url> <admin-token> <extension> <plugin-id> <screenshot-dir> \
//        [<manifest-to-upload> <component-to-upload>]
//
// Prints one JSON line with what it saw; exits non-zero on any failure.
import { chromium } from "playwright-core";

const [, , base, token, extension, pluginId, shots, uploadManifest, uploadComponent] = process.argv;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
});
const seen = {};
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.on("pageerror", (e) => { seen.pageErrors = (seen.pageErrors || []).concat(String(e)); });
  await page.goto(`${base}/admin/`);
  // Keyboard only: the token field, then Enter submits the form.
  await page.focus("#token");
  await page.keyboard.type(token);
  await page.keyboard.press("Enter");
  await page.waitForSelector(`tr[data-plugin="${pluginId}"]`, { timeout: 10000 });
  const row = page.locator(`tr[data-plugin="${pluginId}"]`);
  seen.licenceBefore = { used: await row.locator(".used").innerText(), total: await row.locator(".total").innerText() };
  if (shots) await page.screenshot({ path: `${shots}/admin-licences.png`, fullPage: true });

  await page.click('a[href="#/users"]');
  await page.waitForSelector(`a:text-is("${extension}")`);
  if (shots) await page.screenshot({ path: `${shots}/admin-users.png`, fullPage: true });
  await page.click(`a:text-is("${extension}")`);
  const box = page.locator(`div.plugin[data-plugin="${pluginId}"]`);
  await box.waitFor();
  await box.locator('input[name="enabled"]').check();
  await box.locator("button", { hasText: /Save|Opslaan/ }).click();
  await page.waitForFunction(() => /Saved|Opgeslagen/.test(document.querySelector("#status").textContent));
  seen.saved = true;
  if (shots) await page.screenshot({ path: `${shots}/admin-user.png`, fullPage: true });

  // Dutch, for the record.
  await page.selectOption("#lang", "nl");
  await page.click('a[href="#/licences"]');
  await page.waitForSelector(`tr[data-plugin="${pluginId}"]`);
  seen.licenceAfter = { used: await row.locator(".used").innerText(), total: await row.locator(".total").innerText() };
  seen.dutchHeading = await page.locator("#view h2").first().innerText();
  if (shots) await page.screenshot({ path: `${shots}/admin-licences-nl.png`, fullPage: true });
  await page.click('a[href="#/schedules"]');
  await page.waitForSelector('form[data-schedule=""] button[type="submit"]');
  await page.click('form[data-schedule=""] button[type="submit"]');
  await page.waitForSelector('form[data-schedule="business-hours"]');
  seen.scheduleSaved = true;
  if (shots) await page.screenshot({ path: `${shots}/admin-schedules-nl.png`, fullPage: true });
  await page.click('a[href="#/calls"]');
  await page.waitForSelector("table");
  if (shots) await page.screenshot({ path: `${shots}/admin-calls.png`, fullPage: true });
  if (uploadManifest) {
    await page.selectOption("#lang", "en");
    await page.click('a[href="#/upload"]');
    await page.setInputFiles('input[name="manifest"]', uploadManifest);
    await page.setInputFiles('input[name="component"]', uploadComponent);
    await page.click('#view form button[type="submit"]');
    await page.waitForSelector("ul.caps li, p.error", { timeout: 20000 });
    seen.uploadError = (await page.locator("p.error").allInnerTexts()).join(" ") || undefined;
    seen.uploadCaps = await page.locator("ul.caps li").allInnerTexts();
    if (shots) await page.screenshot({ path: `${shots}/admin-upload.png`, fullPage: true });
  }
  console.log(JSON.stringify(seen));
} catch (e) {
  console.log(JSON.stringify({ ...seen, error: String(e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
