// The user's own page in headless Chromium: logs in with a user token,
// switches do-not-disturb on and saves. Called by tests/tests/web_admin.rs:
//
//   node user.mjs <base-url> <user-token> <screenshot-dir>
import { chromium } from "playwright-core";

const [, , base, token, shots] = process.argv;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
});
const seen = {};
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  page.on("pageerror", (e) => { seen.pageErrors = (seen.pageErrors || []).concat(String(e)); });
  await page.goto(`${base}/admin/`);
  await page.fill("#token", token);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#dnd");
  seen.adminLinksHidden = await page.locator('a[href="#/users"]').isHidden();
  seen.messages = await page.locator("div.message").count();
  // Keyboard: focus the checkbox, space toggles it.
  await page.focus("#dnd");
  await page.keyboard.press("Space");
  await page.click("section.card button", { hasText: /Save|Opslaan/ });
  await page.waitForFunction(() => /Saved|Opgeslagen/.test(document.querySelector("#status").textContent));
  seen.saved = true;
  if (shots) await page.screenshot({ path: `${shots}/user-page.png`, fullPage: true });
  console.log(JSON.stringify(seen));
} catch (e) {
  console.log(JSON.stringify({ ...seen, error: String(e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
