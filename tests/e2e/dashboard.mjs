// The dashboard as a new user meets it, in headless Chromium: sign in, open the running demo
// campaign, sort the leaderboard, preview a prune, look at an influencer, then the
// influencer's own page; screenshots of each page on a laptop and a phone viewport.
//   node dashboard.mjs <base url> <admin key> <influencer key> <screenshot dir>
import { chromium } from "playwright-core";

const [base, adminKey, influencerKey, out] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log("ok -", message);
}

async function shoot(page, name) {
  await page.screenshot({ path: `${out}/${name}-laptop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, `${name}: no sideways scroll on a 390 px phone (document ${wide} px)`);
  await page.screenshot({ path: `${out}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1366, height: 900 });
}

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await page.goto(`${base}/dashboard`);
  check(page.url().endsWith("/dashboard/login"), "signed out, the dashboard asks for a key");
  await shoot(page, "1-sign-in");
  await page.getByLabel("API key").fill("itk_wrong_key");
  await page.getByRole("button", { name: "Sign in" }).click();
  check((await page.textContent("body")).includes("unknown or revoked"), "a wrong key is refused");
  await page.getByLabel("API key").fill(adminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  check((await page.textContent("h1")) === "Campaigns", "signed in, the campaigns are listed");
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "itk_session");
  check(session && session.httpOnly && session.sameSite === "Strict", "the session is in an HttpOnly, SameSite=Strict cookie");
  await shoot(page, "2-campaigns");

  await page.getByRole("link", { name: "Summer Glow" }).click();
  check((await page.textContent("h1")).includes("Summer Glow"), "the running campaign opens");
  check((await page.locator(".kpis dt").allTextContents()).includes("Net revenue"), "KPI tiles are shown");
  check(await page.locator("[role=progressbar]").count() === 1, "the goal progress bar is shown");
  // Drawn as its progress (an inline style, blocked by the page's CSP, once drew it full).
  const bar = await page.locator("[role=progressbar]").boundingBox();
  const fill = page.locator("[role=progressbar] rect.fill");
  const drawn = ((await fill.boundingBox()).width / bar.width) * 100;
  const progress = parseFloat(await fill.getAttribute("data-progress"));
  check(Math.abs(drawn - progress) < 1, `the goal bar is drawn at its progress (${drawn.toFixed(1)}% for ${progress}%)`);
  check(progress > 0 && progress < 100 ? drawn < 99 : true, "a goal not reached is not drawn full");
  check(await page.locator("figure.chart svg").count() === 2, "the time chart and the funnel are drawn");
  const rows = page.locator("table.board tbody tr");
  check(await rows.count() === 12, "the leaderboard has the 12 influencers");
  await shoot(page, "3-campaign");

  // Sort by ROI, highest first.
  await page.locator("table.board thead").getByRole("link", { name: "ROI", exact: true }).click();
  const roi = async (i) => parseFloat(await rows.nth(i).locator("td").nth(6).textContent());
  check((await roi(0)) >= (await roi(1)) && (await roi(1)) >= (await roi(2)), "sorted by ROI, highest first");
  check((await page.locator("th[aria-sort=descending]").textContent()).includes("ROI"), "the sorted column says so");

  // Preview a prune: nothing changes until confirmed.
  await page.locator("#prune").getByLabel("Minimum ROI").fill("0");
  await page.locator("#prune").getByLabel("Clicks needed to be judged").fill("100");
  await page.locator("#prune").getByRole("button", { name: "Preview" }).click();
  const preview = await page.textContent("#preview");
  check(preview.includes("Preview:"), "the prune preview is shown");
  check(preview.includes("@clickfarm.deals") && preview.includes("ROI -1 is below 0"), "the click farm would go, with its reason");
  check(preview.includes("@newbie.nina") && preview.includes("not judged"), "the newcomer is not judged on too little data");
  check(await page.locator("tr.pruned").count() === 0, "nobody is pruned by a preview");
  check(await page.getByRole("button", { name: /Confirm: prune/ }).count() === 1, "a confirmation is offered");
  await shoot(page, "4-prune-preview");

  // An influencer's page (brand view).
  await page.getByRole("link", { name: "@mia.glow" }).first().click();
  check((await page.textContent("h1")).includes("@mia.glow"), "the influencer page opens");
  check((await page.textContent("body")).includes("To be paid"), "earnings are shown");
  await page.locator("details.qr summary").first().click();
  const qr = await page.locator("details.qr svg").first().boundingBox();
  check(qr && qr.width >= 150, "a link's QR code opens, drawn");
  check(await page.locator("details.qr a[download$='.png']").count() > 0 && await page.locator("details.qr a[download$='.svg']").count() > 0, "the QR code downloads as SVG and PNG");
  await shoot(page, "5-influencer");

  // The store page: how the shops are connected, and the codes not in step with them.
  await page.getByRole("link", { name: "Store", exact: true }).click();
  check((await page.textContent("h1")) === "Store", "the store page opens from the header");
  check((await page.textContent("main")).includes("Shopify") && (await page.textContent("main")).includes("WooCommerce"), "both platforms are shown");
  await shoot(page, "5b-store");

  await page.getByRole("button", { name: "Sign out" }).click();
  check(page.url().endsWith("/dashboard/login"), "signed out");

  // The influencer's own view.
  await page.getByLabel("API key").fill(influencerKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  check(page.url().endsWith("/dashboard/me"), "an influencer lands on their own page");
  const mine = await page.textContent("main");
  check(mine.includes("Your links") && mine.includes("/r/"), "their links are listed");
  check(!mine.includes("clickfarm"), "nothing of other influencers");
  await shoot(page, "6-my-page");
} finally {
  await browser.close();
}
