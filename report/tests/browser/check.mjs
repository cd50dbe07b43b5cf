// Opens a featgen report from disk in Debian's headless Chromium and checks what a reader sees.
//
//   node check.mjs REPORT.html EXPECTED.json ARTIFACTS_DIR
//
// EXPECTED.json (written by report/tests/browser.rs) holds what the rows say: totals to the cent,
// legend entries, the deployment to switch to. Prints one line per check; exits 1 on the first
// failure, 2 when Chromium or playwright-core is missing. Run with --measure to only time the
// rendering (report/benches/month.rs), with --area-drawn to only check that the area chart fills
// its plot (a one-hour report has a single point per series).
import { createHash } from 'node:crypto';
import { readFileSync, mkdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const CHROMIUM = process.env.FEATGEN_CHROMIUM || '/usr/bin/chromium';
const [reportPath, expectedPath, artifacts] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const measureOnly = process.argv.includes('--measure');
const areaOnly = process.argv.includes('--area-drawn');

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  console.error(`playwright-core is missing (run npm ci in report/tests/browser): ${err.message}`);
  process.exit(2);
}

mkdirSync(artifacts, { recursive: true });

// The page's Content-Security-Policy runs only scripts of known hashes: name the new one when a
// script changed (report/src/html.rs, SCRIPT_HASHES).
{
  const html = readFileSync(reportPath, 'utf8');
  const policy = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)[1];
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  for (const script of scripts) {
    const hash = createHash('sha256').update(script, 'utf8').digest('base64');
    if (!policy.includes(`'sha256-${hash}'`)) {
      console.error(`FAIL: an inline script's sha256 is not in the page's policy: put ${hash} in SCRIPT_HASHES (report/src/html.rs)`);
      process.exit(1);
    }
  }
  if (scripts.length !== 2) {
    console.error(`FAIL: expected 2 inline scripts, found ${scripts.length}`);
    process.exit(1);
  }
}
const url = pathToFileURL(reportPath).href;
let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-gpu'],
  });
} catch (err) {
  console.error(`cannot start ${CHROMIUM} (apt-get install chromium): ${err.message}`);
  process.exit(2);
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}
function check(condition, message) {
  if (!condition) fail(message);
  console.log(`ok: ${message}`);
}
function sameSet(actual, expected) {
  return JSON.stringify([...actual].sort()) === JSON.stringify([...expected].sort());
}

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  page.on('request', (request) => {
    if (request.url() !== url && !request.url().startsWith('blob:')) requests.push(request.url());
  });
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));

  const started = Date.now();
  await page.goto(url, { waitUntil: 'load', timeout: 120_000 });
  await page.waitForFunction(() => window.featgenReport !== undefined, null, { timeout: 120_000 });
  const wall = Date.now() - started;
  const marks = await page.evaluate(() => ['featgen-parsed', 'featgen-rendered'].map((name) => performance.getEntriesByName(name)[0].startTime));
  if (measureOnly) {
    await page.screenshot({ path: join(artifacts, 'month.png') });
    // From navigation start: the data parsed, the page drawn; and the harness's wall clock.
    console.log(JSON.stringify({ parsedMs: Math.round(marks[0]), renderedMs: Math.round(marks[1]), wallMs: wall }));
    check(errors.length === 0 && requests.length === 0, `no error, no request (${errors.concat(requests).join('; ')})`);
    process.exit(process.exitCode || 0);
  }
  if (areaOnly) {
    // The share of the plot area (inside the chart's grid) that the stacked areas painted.
    const filled = await page.evaluate(async () => {
      await new Promise((resolve) => requestAnimationFrame(() => resolve()));
      const chart = window.featgenReport.charts.area;
      const canvas = document.querySelector('#area canvas');
      const scale = canvas.width / canvas.clientWidth;
      const grid = chart.getModel().getComponent('grid').coordinateSystem.getRect();
      const [x, y, w, h] = [grid.x, grid.y, grid.width, grid.height].map((v) => Math.floor(v * scale));
      const pixels = canvas.getContext('2d').getImageData(x + 2, y + 2, w - 4, h - 4).data;
      let count = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) count += 1;
      return count / ((w - 4) * (h - 4));
    });
    await page.screenshot({ path: join(artifacts, 'area.png') });
    check(filled > 0.3, `the area chart fills ${Math.round(filled * 100)}% of its plot`);
    check(errors.length === 0 && requests.length === 0, `no error, no request (${errors.concat(requests).join('; ')})`);
    process.exit(process.exitCode || 0);
  }
  const expected = JSON.parse(readFileSync(expectedPath, 'utf8'));

  const vendored = createHash('sha256').update(readFileSync(expected.echarts)).digest('hex');
  check(readFileSync(expected.vendorReadme, 'utf8').includes(vendored), `vendored echarts.min.js has the recorded sha256 ${vendored}`);

  const text = (selector) => page.locator(selector).innerText();
  const cents = async (selector) => (await text(selector)).replace(/,/g, '').replace(/\s*[A-Z]{3}$/, '');
  const option = (chart) => page.evaluate((c) => {
    const o = window.featgenReport.charts[c].getOption();
    return {
      legend: o.legend && o.legend[0] ? o.legend[0].data : [],
      names: o.series.map((s) => s.name),
      top: o.series[0].data.map((d) => d.name),
      values: o.series[0].data.map((d) => (Array.isArray(d) ? d[1] : d.value)),
    };
  }, chart);
  // Pixels a chart actually painted on its canvas.
  const painted = (chart) => page.evaluate(async (c) => {
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    const canvas = document.querySelector(`#${c} canvas`);
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) count += 1;
    return count;
  }, chart);

  // 1. The whole window, all deployments: totals, legends, drawn charts.
  await page.selectOption('#period', '0');
  await page.selectOption('#deployment', '0');
  await page.selectOption('#grouping', 'feature');
  check(await cents('#total-cost') === expected.total, `the bill shown is the rows' sum ${expected.total}`);
  check(await cents('#table-total') === expected.total, `the table's grand total is ${expected.total}`);
  for (const chart of ['pie', 'sunburst', 'area']) {
    const count = await painted(chart);
    check(count > 5_000, `the ${chart} chart is drawn (${count} pixels)`);
  }
  const pie = await option('pie');
  check(sameSet(pie.legend, expected.pieLegend), `pie legend: ${pie.legend.join(', ')}`);
  check(pie.legend.includes('unattributed'), 'the unattributed slice is in the pie');
  const area = await option('area');
  check(sameSet(area.legend, expected.areaLegend), `area legend: ${area.legend.join(', ')}`);
  const sunburst = await option('sunburst');
  check(sameSet(sunburst.top, expected.sunburstTop), `sunburst rings: ${sunburst.top.join(', ')}`);
  await page.screenshot({ path: join(artifacts, 'report.png'), fullPage: false });

  // The hostile feature name is the largest slice (from 12 o'clock, clockwise): its tooltip
  // shows the name as text.
  const pieBox = await page.locator('#pie').boundingBox();
  const pieRadius = (Math.min(pieBox.width, pieBox.height) / 2) * 0.52;
  const pieAngle = (80 * Math.PI) / 180;
  await page.mouse.move(pieBox.x + pieBox.width * 0.35 + pieRadius * Math.cos(pieAngle), pieBox.y + pieBox.height / 2 - pieRadius * Math.sin(pieAngle), { steps: 4 });
  await page.waitForFunction((name) => document.getElementById('pie').innerText.includes(name), expected.hostile, { timeout: 10_000 });
  const injected = await page.evaluate(() => document.querySelectorAll('#pie img, #sunburst img, #area img').length + (window.__pwned ? 1 : 0));
  check(injected === 0, 'a feature named like markup shows as text in the tooltip');
  await page.mouse.move(0, 0);

  // 2. Clicking the largest group zooms into it; clicking the centre zooms back out.
  const box = await page.locator('#sunburst').boundingBox();
  const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  const ring = (Math.min(box.width, box.height) / 2) * 0.26; // middle of the first ring (12%–40%)
  const angle = (80 * Math.PI) / 180; // 10° clockwise from 12 o'clock: the largest segment (sorted)
  await page.mouse.click(cx + ring * Math.cos(angle), cy - ring * Math.sin(angle));
  const zoomed = await page.evaluate(() => window.featgenReport.sunburstRoot());
  check(JSON.stringify(zoomed) === JSON.stringify([expected.largestGroup]), `clicking the sunburst zooms into ${zoomed.join(' → ')}`);
  check((await text('#sunburst-root')).includes(expected.largestGroup), 'the zoom is named above the chart');
  await page.screenshot({ path: join(artifacts, 'sunburst-zoomed.png') });
  // The centre disc (radius 12%) is the way back; its very middle is a hole in ECharts' hit test.
  await page.mouse.click(cx + (Math.min(box.width, box.height) / 2) * 0.06, cy);
  const back = await page.evaluate(() => window.featgenReport.sunburstRoot());
  check(back.length === 0, 'clicking the centre zooms back out');

  // 3. Another deployment: every chart and the totals follow.
  await page.selectOption('#deployment', String(expected.deployment.index));
  check(await cents('#total-cost') === expected.deployment.total, `${expected.deployment.name}: the bill shown is ${expected.deployment.total}`);
  const piePerDeployment = await option('pie');
  check(sameSet(piePerDeployment.legend, expected.deployment.pieLegend), `${expected.deployment.name}: pie legend ${piePerDeployment.legend.join(', ')}`);
  const areaPerDeployment = await option('area');
  check(JSON.stringify(areaPerDeployment.values) !== JSON.stringify(area.values), `${expected.deployment.name}: the area chart changed`);
  const sunburstPerDeployment = await option('sunburst');
  check(JSON.stringify(sunburstPerDeployment.values) !== JSON.stringify(sunburst.values), `${expected.deployment.name}: the sunburst changed`);
  await page.screenshot({ path: join(artifacts, 'deployment.png') });

  // 4. Grouping by team: pie and area regroup.
  await page.selectOption('#deployment', '0');
  await page.selectOption('#grouping', 'team');
  const pieByTeam = await option('pie');
  check(sameSet(pieByTeam.legend, expected.teamLegend), `by team, pie legend: ${pieByTeam.legend.join(', ')}`);
  const areaByTeam = await option('area');
  check(sameSet(areaByTeam.legend, expected.teamLegend), `by team, area legend: ${areaByTeam.legend.join(', ')}`);

  // 5. CPU share: the buckets without CPU leave the pie.
  await page.selectOption('#metric', 'share');
  const pieShare = await option('pie');
  check(!pieShare.legend.includes('unprofiled') && pieShare.legend.includes('unattributed'), 'by CPU share, unprofiled has no slice and unattributed has one');
  await page.selectOption('#metric', 'cost');

  // 6. What changed, the last day against the one before: the regression is flagged first.
  await page.selectOption('#period', String(expected.changes.period));
  await page.locator('#change-tabs button[data-level="endpoint"]').click();
  const firstChange = await page.locator('#changes tbody tr').first().innerText();
  check(firstChange.includes(expected.changes.endpoint) && firstChange.includes('▲'), `what changed, first row: ${firstChange.replace(/\s+/g, ' ')}`);
  await page.locator('#changes').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(artifacts, 'changes.png') });

  // 7. The tables sort, and the CSV holds the rows and the bill.
  await page.selectOption('#period', '0');
  await page.locator('#table-tabs button[data-level="feature"]').click();
  await page.locator('#table thead th', { hasText: 'Feature' }).click();
  const firstTwo = await page.locator('#table tbody tr td:first-child').evaluateAll((cells) => cells.slice(0, 2).map((c) => c.textContent));
  check(firstTwo[0] <= firstTwo[1], `sorted by feature name: ${firstTwo.join(', ')}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
  check(csv[0].startsWith('feature,cost,currency'), `CSV header: ${csv[0]}`);
  check(csv[csv.length - 1].startsWith(`total,${expected.totalExact},`), `CSV total row: ${csv[csv.length - 1]}`);

  // Last: a full-page screenshot resizes the viewport, and the charts with it. The last day, by
  // feature, what changed on show (the README's picture).
  await page.selectOption('#period', String(expected.changes.period));
  await page.selectOption('#grouping', 'feature');
  await page.screenshot({ path: join(artifacts, 'report-full.png'), fullPage: true });
  check(errors.length === 0, `no console error or page error (${errors.join('; ')})`);
  check(requests.length === 0, `no request besides the file itself (${requests.join(', ')})`);
} catch (err) {
  if (!process.exitCode) {
    console.error(`FAIL: ${err.stack || err}`);
    process.exitCode = 1;
  }
} finally {
  await browser.close();
}
