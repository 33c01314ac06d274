// Attendance (考勤) on a phone: a salesperson opens the clock page at phone width and clocks in.
// The administrator restricts clocking in to the office network and a radius around the office;
// from outside the network the punch is refused with a message naming the address, from 1 km
// away with one naming the distance, and at the office it is accepted and listed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, launch, person, signIn, shot } from './support.mjs';

// The office: People's Square, Shanghai.
const OFFICE = { latitude: 31.2304, longitude: 121.4737 };
const FAR = { latitude: 31.2394, longitude: 121.4737 }; // about 1 km north

/** The ids of the networks the administrator configured. */
async function networks(admin) {
  const page = await admin.get('/api/v1/plugins/attendance/pages/networks');
  const table = page.blocks.find((b) => b.type === 'table');
  return table ? table.row_ids : [];
}

async function addNetwork(admin, cidr, label) {
  const done = await admin.post('/api/v1/plugins/attendance/pages/networks/actions/add-range', { input: { cidr, label } });
  assert.ok(done.level === 'success' || done.errors?.cidr, JSON.stringify(done));
}

/** Presses 上班打卡 and waits for the page the punch's answer comes back on. */
async function clockIn(page) {
  const answered = page.waitForResponse(
    (r) => r.url().endsWith('/p/attendance/clock') && r.request().method() === 'GET' && r.status() === 200,
  );
  await page.locator('form[action$="/act/clock-in"] button[type=submit]').click();
  await answered;
  await page.waitForLoadState('domcontentloaded');
}

test('a salesperson clocks in at phone width, only on the office network and at the office', async () => {
  const admin = await api('admin');
  for (const id of await networks(admin)) {
    await admin.post('/api/v1/plugins/attendance/pages/networks/actions/delete-range', { argument: id, input: {} });
  }
  await addNetwork(admin, '10.8.0.0/16', '总部办公室');
  await admin.put('/api/v1/plugins/attendance/settings', {
    site_lat: OFFICE.latitude,
    site_lon: OFFICE.longitude,
    radius_m: 300,
  });

  const browser = await launch();
  try {
    const { context, page, errors } = await person(browser, { locale: 'zh-CN', phone: true });
    await context.grantPermissions(['geolocation']);
    await context.setGeolocation({ ...FAR, accuracy: 20 });
    await signIn(page, 'zhang.wei');
    await page.goto('/p/attendance/clock');
    await page.locator('h1', { hasText: '打卡' }).first().waitFor();

    // The page fits the phone: nothing wider than the screen.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the clock page is ${overflow}px wider than the phone`);
    const button = page.locator('form[action$="/act/clock-in"] button[type=submit]');
    const box = await button.boundingBox();
    assert.ok(box && box.height >= 40, `the clock-in button is large enough to tap: ${JSON.stringify(box)}`);

    // Outside the office network: refused, naming the address.
    await page.locator('[data-location-status][data-state="found"]').first().waitFor();
    await clockIn(page);
    const refused = page.locator('.notice', { hasText: '不在允许打卡的网络范围内' }).first();
    await refused.waitFor();
    assert.match(await refused.textContent(), /127\.0\.0\.1/);
    await shot(page, 'attendance-refused-network-phone');

    // On the office network but 1 km away: refused, naming the distance.
    await addNetwork(admin, '127.0.0.0/8', '本机网络');
    await page.goto('/p/attendance/clock');
    await page.locator('[data-location-status][data-state="found"]').first().waitFor();
    await clockIn(page);
    const far = page.locator('.notice', { hasText: '超出允许打卡的 300 米范围' }).first();
    await far.waitFor();
    assert.match(await far.textContent(), /约 1\d{3} 米/);

    // At the office: accepted, and listed among today's punches.
    await context.setGeolocation({ ...OFFICE, accuracy: 15 });
    await page.goto('/p/attendance/clock');
    await page.locator('[data-location-status][data-state="found"]').first().waitFor();
    await clockIn(page);
    await page.locator('.notice', { hasText: '上班打卡成功' }).first().waitFor();
    await page.locator('td', { hasText: '网页' }).first().waitFor();
    await shot(page, 'attendance-clocked-in-phone');
    assert.deepEqual(errors, [], errors.join('\n'));
  } finally {
    await browser.close();
    for (const id of await networks(admin)) {
      await admin.post('/api/v1/plugins/attendance/pages/networks/actions/delete-range', { argument: id, input: {} });
    }
    await admin.put('/api/v1/plugins/attendance/settings', { site_lat: null, site_lon: null, radius_m: null });
  }
});
