// A brand from empty to a pruned campaign and its successor, through the dashboard only, in
// headless Chromium. The only API calls are the ones a brand does not make: the operator's
// brand creation (the sign-in key, made by the Rust side), shoppers following links (the
// redirect) and the shop reporting orders with the storefront key the brand created on the
// Keys page. Screenshots of every page on a laptop and a 390 px phone, none scrolling sideways.
//   node workspace.mjs <base url> <admin key> <screenshot dir>
import { chromium } from "playwright-core";

const [base, adminKey, out] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log("ok -", message);
}

let shots = 0;
async function shoot(page, name) {
  shots += 1;
  const file = `${String(shots).padStart(2, "0")}-${name}`;
  await page.screenshot({ path: `${out}/w${file}-laptop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, `${name}: no sideways scroll on a 390 px phone (document ${wide} px)`);
  await page.screenshot({ path: `${out}/w${file}-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1366, height: 900 });
}

const chrome = (i) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.${i}.0 Safari/537.36`;

// A shopper following a link: the redirect answers 302.
async function follow(shortUrl, userAgent) {
  const r = await fetch(shortUrl, { redirect: "manual", headers: { "user-agent": userAgent } });
  if (r.status !== 302) throw new Error(`the link answered ${r.status}`);
}

// The shop reporting an order that used a discount code.
async function order(storefront, id, amount, code) {
  const r = await fetch(`${base}/api/v1/orders`, {
    method: "POST",
    headers: { authorization: `Bearer ${storefront}`, "content-type": "application/json" },
    body: JSON.stringify({ order_id: id, amount, currency: "EUR", discount_codes: [code] }),
  });
  if (r.status !== 201) throw new Error(`order ${id}: ${r.status} ${await r.text()}`);
}

const text = async (page, selector = "main") => (await page.textContent(selector)) || "";

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await page.goto(`${base}/dashboard/login`);
  await page.getByLabel("API key").fill(adminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  check((await text(page, "h1")) === "Campaigns", "the new brand signs in");
  check((await text(page)).includes("Getting started") && !(await text(page)).includes("(done)"), "an empty brand gets the checklist, nothing ticked");
  await shoot(page, "empty-brand");

  // 1. Connect the store.
  await page.locator("header nav").getByRole("link", { name: "Store", exact: true }).click();
  const woo = page.locator("section#woocommerce");
  await woo.getByLabel("Webhook secret").fill("short");
  await woo.getByRole("button", { name: "Save connection" }).click();
  check((await text(page, "#woocommerce-webhook-secret-error")).includes("8 to 512"), "a short secret is refused beside its field");
  await page.locator("section#woocommerce").getByLabel("Webhook secret").fill("e2e-woocommerce-webhook-secret");
  await page.locator("section#woocommerce").getByRole("button", { name: "Save connection" }).click();
  check((await text(page, "section#woocommerce")).includes("/api/v1/integrations/woocommerce/"), "connected: the webhook URL to paste is shown");
  await shoot(page, "store");

  // 2. Create a campaign.
  await page.locator("header nav").getByRole("link", { name: "Campaigns", exact: true }).click();
  await page.getByRole("link", { name: "New campaign" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Spring Launch");
  await page.getByLabel("Destination URL").fill("https://shop.example/spring");
  await page.getByLabel("Currency").fill("EURO");
  await page.getByLabel("Goal metric").selectOption("net_revenue");
  await page.getByLabel("Goal target").fill("1000");
  await page.getByLabel("Attribution model").selectOption("last_click");
  await page.getByRole("button", { name: "Create campaign" }).click();
  check(await page.locator("#f-currency-error").count() === 1, "a bad currency is named beside its field");
  check(await page.getByLabel("Name", { exact: true }).inputValue() === "Spring Launch", "what was typed is kept");
  await shoot(page, "new-campaign-error");
  await page.getByLabel("Currency").fill("EUR");
  await page.getByRole("button", { name: "Create campaign" }).click();
  check((await text(page, "h1")).includes("Spring Launch"), "the campaign is created and opens");
  const campaignUrl = page.url();

  // 3. Influencers from a CSV with one bad row: previewed, nothing written until it is clean.
  await page.locator("header nav").getByRole("link", { name: "Influencers", exact: true }).click();
  const csv = "handle,display_name,email,platform,followers\nstar,Star,star@example.com,instagram,52000\nsteady,Steady,,tiktok,8000\nfarm,Click Farm,,instagram,900000\nbad handle,Broken,not-an-email,,\nnewbie,Newbie,,instagram,300\n";
  await page.setInputFiles("#file", { name: "influencers.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.locator("#import").getByRole("button", { name: "Preview" }).click();
  const preview = await text(page, "#import");
  check(preview.includes("5 rows, 1 with errors"), "the preview counts the bad row");
  check(preview.includes("handle:") && preview.includes("email"), "the bad row's errors are named");
  check(await page.getByRole("button", { name: /Apply/ }).count() === 0, "no apply while a row fails");
  check(!(await text(page)).includes("@star"), "nothing was written by the preview");
  await shoot(page, "import-preview");
  await page.locator("#csv").fill(csv.split("\n").filter((l) => !l.startsWith("bad handle")).join("\n"));
  await page.locator("#import").getByRole("button", { name: "Preview" }).click();
  await page.getByRole("button", { name: "Apply: import 4 influencers" }).click();
  check((await text(page)).includes("Imported 4 influencers"), "the corrected file is imported at once");
  await page.getByLabel("Handle").fill("nova");
  await page.getByLabel("Display name").fill("Nova");
  await page.getByRole("button", { name: "Add influencer" }).click();
  check((await text(page)).includes("Added @nova"), "one more, by hand");
  await shoot(page, "influencers");

  // 4. Enroll four of them with a fee, a commission and a code; collect their links.
  const links = {};
  const codes = { star: "STAR10", steady: "STEADY10", farm: "FARM10", newbie: "NEWBIE10" };
  for (const handle of Object.keys(codes)) {
    await page.goto(campaignUrl);
    await page.getByRole("link", { name: "Enroll influencers" }).click();
    await page.getByLabel("Influencer").selectOption({ label: `@${handle} (${handle === "farm" ? "Click Farm" : handle[0].toUpperCase() + handle.slice(1)})` });
    await page.getByLabel("Fee").fill("100");
    await page.getByLabel("Commission rate").fill("0.10");
    await page.getByLabel("Discount code").fill(codes[handle]);
    if (handle === "star") await shoot(page, "enroll");
    await page.getByRole("button", { name: "Enroll" }).click();
    check((await text(page, "h1")).includes(`@${handle}`), `@${handle} is enrolled and their page opens`);
    links[handle] = (await page.locator("ul.links code").first().textContent()).trim();
  }
  // More links per post, on the influencer's page.
  await page.getByLabel("Label").fill("Story 2");
  await page.getByRole("button", { name: "Add link" }).click();
  check((await text(page, "#links + ul")).includes("Story 2"), "another link is added");

  // 5. Keys: a storefront key for the shop, shown once.
  await page.locator("header nav").getByRole("link", { name: "Keys", exact: true }).click();
  await page.getByLabel("Scope").selectOption("storefront");
  await page.getByLabel("Name", { exact: true }).fill("The shop");
  await page.getByRole("button", { name: "Create key" }).click();
  const storefront = (await page.locator("#new-key").textContent()).trim();
  check(storefront.startsWith("itk_"), "the new key is shown once");
  await shoot(page, "keys");

  // Shoppers click; the shop reports orders with the codes. The click farm: 150 clicks of
  // one visitor, no sale.
  for (let i = 0; i < 20; i++) await follow(links.star, chrome(i));
  for (let i = 0; i < 20; i++) await follow(links.steady, chrome(100 + i));
  for (let i = 0; i < 150; i++) await follow(links.farm, chrome(999));
  for (let i = 0; i < 2; i++) await follow(links.newbie, chrome(500 + i));
  await order(storefront, "W-1", "300.00", "STAR10");
  await order(storefront, "W-2", "200.00", "STAR10");
  await order(storefront, "W-3", "150.00", "STEADY10");

  // 6. Post metrics by form.
  await page.goto(campaignUrl);
  await page.getByRole("link", { name: "Post metrics" }).click();
  await page.getByLabel("Influencer").selectOption("star");
  await page.getByLabel("Post URL").fill("https://instagram.example/p/star-1");
  await page.getByLabel("Platform").fill("instagram");
  await page.getByLabel("Impressions").fill("40000");
  await page.getByLabel("Likes").fill("2400");
  await page.getByRole("button", { name: "Save post" }).click();
  check((await text(page)).includes("Saved https://instagram.example/p/star-1"), "a post's figures are saved");
  await shoot(page, "posts");

  // 7. Watch: the goal bar, the verdicts (the click farm is a drop).
  await page.goto(campaignUrl);
  for (let tries = 0; tries < 50; tries++) {
    const clicks = await page.locator(".kpis div", { hasText: "Clicks" }).locator("dd").first().textContent();
    if (clicks.trim() === "192") break;
    await page.waitForTimeout(200);
    await page.reload();
  }
  check((await page.locator(".kpis div", { hasText: "Clicks" }).locator("dd").first().textContent()).trim() === "192", "every click is counted");
  const bar = await page.locator("[role=progressbar]").boundingBox();
  const fill = page.locator("[role=progressbar] rect.fill");
  const drawn = ((await fill.boundingBox()).width / bar.width) * 100;
  const progress = parseFloat(await fill.getAttribute("data-progress"));
  check(Math.abs(progress - 65) < 0.01, `the goal is 65% reached (650.00 of 1,000.00): ${progress}`);
  check(Math.abs(drawn - progress) < 1, `the goal bar's computed width is its progress (${drawn.toFixed(1)}%)`);
  const verdict = async (handle) => page.locator("table.board tbody tr", { has: page.getByRole("link", { name: `@${handle}`, exact: true }) }).getAttribute("data-verdict");
  check((await verdict("farm")) === "drop", "the click farm is marked drop under the default rules");
  check((await verdict("star")) === "watch", "20 clicks are too few for the default 100: watch");
  check((await text(page, "table.board")).includes("150 clicks, 0 sales"), "the click farm's clicks without sales are visible");
  check(await page.locator("table.board td.neg").count() >= 1, "a negative ROI is marked");
  await shoot(page, "campaign");
  // Judge from 10 clicks: star and steady keep, newbie is watched, the farm drops.
  await page.locator("details.rules summary").click();
  await page.locator("details.rules").getByLabel("Clicks needed to be judged").fill("10");
  await page.getByRole("button", { name: "Apply rules" }).click();
  check((await verdict("star")) === "keep" && (await verdict("steady")) === "keep", "the sellers keep");
  check((await verdict("newbie")) === "watch" && (await verdict("farm")) === "drop", "the newcomer is watched, the farm drops");
  // A date range: today only holds everything.
  const today = new Date().toISOString().slice(0, 10);
  await page.getByLabel("From", { exact: true }).fill(today);
  await page.getByLabel("To", { exact: true }).fill(today);
  await page.getByRole("button", { name: "Show" }).click();
  check((await text(page)).includes(`Figures of ${today} to ${today}`), "the date range is applied");
  check((await page.locator(".kpis div", { hasText: "Clicks" }).locator("dd").first().textContent()).trim() === "192", "today's clicks");
  check((await verdict("farm")) === "drop", "the rules survive the date range");

  // 8. Act: prune with the prefilled rules; inline errors keep what was typed.
  await page.locator("#prune").getByLabel("Minimum ROI").fill("lots");
  await page.locator("#prune").getByRole("button", { name: "Preview" }).click();
  check(await page.locator("#p-min_roi-error").count() === 1, "a bad rule is named beside its field");
  check(await page.locator("#prune").getByLabel("Minimum ROI").inputValue() === "lots", "the typed rule is kept");
  await page.locator("#prune").getByLabel("Minimum ROI").fill("0");
  await page.locator("#prune").getByRole("button", { name: "Preview" }).click();
  const pr = await text(page, "#preview");
  check(pr.includes("@farm") && pr.includes("ROI -1 is below 0"), "the preview would prune the farm, with its reason");
  await shoot(page, "prune-preview");
  await page.getByRole("button", { name: /Confirm: prune/ }).click();
  check(await page.locator("tr.pruned").count() === 1, "the farm is pruned");

  // The influencer's page: their chart, links with QR codes.
  await page.goto(campaignUrl);
  await page.getByRole("link", { name: "@star", exact: true }).click();
  check(await page.locator("figure.chart svg").count() === 1, "the influencer's own time chart");
  check(await page.locator("details.qr").count() >= 1, "links with QR codes");
  await shoot(page, "influencer");

  // Payouts: mark star's fee paid; CSV offered.
  await page.goto(campaignUrl);
  await page.getByRole("link", { name: "Payouts" }).click();
  const owed = async () => (await page.locator("table.board tbody tr[data-handle=star] td.balance").textContent()).trim();
  check((await owed()) === "100.00", "star is owed the fee");
  const pay = page.getByRole("form", { name: "Mark @star paid" });
  check((await pay.getByLabel("Amount").inputValue()) === "100.00", "the amount is prefilled with the balance");
  await pay.getByLabel("Reference").fill("TX-1");
  await pay.getByRole("button", { name: "Mark paid" }).click();
  check((await owed()) === "0.00", "paid: nothing more owed");
  check(await page.getByRole("form", { name: "Mark @star paid" }).count() === 0, "nothing left to pay star");
  const csvHref = await page.getByRole("link", { name: "Download CSV" }).getAttribute("href");
  const payoutCsv = await page.evaluate(async (h) => (await fetch(h)).text(), csvHref);
  check(payoutCsv.startsWith("enrollment_id,influencer_id,handle,status") && payoutCsv.includes(",star,"), "payouts download as CSV");
  await shoot(page, "payouts");

  // 9. The next campaign: keep the best two, add nova, carry codes; preview, then create.
  await page.goto(campaignUrl);
  await page.getByRole("link", { name: "Next campaign" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Summer Launch");
  await page.getByLabel("Keep top").fill("2");
  await page.getByLabel("@nova").check();
  await page.getByLabel("Carry codes").check();
  await page.getByRole("button", { name: "Preview" }).click();
  const next = await text(page, "#preview");
  check(next.includes("Kept (2)") && next.includes("@star") && next.includes("@steady"), "the best two are kept");
  check(next.includes("Added (1)") && next.includes("@nova") && next.includes("@farm"), "nova is added, the farm is not carried over");
  await shoot(page, "successor-preview");
  await page.getByRole("button", { name: "Create campaign Summer Launch" }).click();
  check((await text(page, "h1")).includes("Summer Launch"), "the successor is created");
  check(await page.locator("table.board tbody tr").count() === 3, "with three influencers");
  await shoot(page, "successor");

  // 10. Costs besides fees: a tool for the new campaign, and an impossible one refused by name.
  await page.getByRole("link", { name: "Costs" }).click();
  await page.getByLabel("Kind").selectOption("tool");
  await page.getByLabel("Amount").fill("12.345");
  await page.getByRole("button", { name: "Add cost" }).click();
  check(await page.locator("#f-amount-error").count() === 1, "an amount finer than the cent is refused beside its field");
  await page.getByLabel("Amount").fill("49.00");
  await page.getByLabel("Note").fill("scheduler");
  await page.getByRole("button", { name: "Add cost" }).click();
  const costs = await text(page, "table");
  check(costs.includes("tool") && costs.includes("49.00") && costs.includes("scheduler"), "the cost is listed");
  await shoot(page, "costs");
  await page.locator(".crumbs a").nth(1).click();
  check((await text(page)).includes("Paid and organic"), "the campaign reads paid and organic apart");

  // The brand's home: every step of the checklist done, both campaigns listed.
  await page.locator("header nav").getByRole("link", { name: "Campaigns", exact: true }).click();
  // The first click ticks its step once folded into the rollups (seconds).
  for (let tries = 0; tries < 120 && (await text(page)).includes("Getting started"); tries++) {
    await page.waitForTimeout(500);
    await page.reload();
  }
  check(!(await text(page)).includes("Getting started"), "the checklist is gone once every step is done");
  check((await text(page)).includes("Spring Launch") && (await text(page)).includes("Summer Launch"), "both campaigns are listed");
  await shoot(page, "campaigns");
  console.log(`${shots} pages, each on a laptop and a phone`);
} finally {
  await browser.close();
}
