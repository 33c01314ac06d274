// Caller-ID popup (来电弹屏): a PBX reports a call and the popup opens in the browser of the
// agent on the ringing extension, in every tab they have open and in nobody else's; the agent
// logs the call inside the popup; an unknown caller becomes a customer from the popup; and the
// "simulate call" of the calls page pops up to the one who pressed it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, api, launch, person, signIn, shot } from './support.mjs';

const TOKEN = 'browser-suite-pbx-token-2026';

/** Sets the webhook token and maps each extension to its user, as the administrator. */
async function setUp(mapping) {
  const admin = await api('admin');
  await admin.put('/api/v1/plugins/call-popup/settings', { webhook_token: TOKEN });
  for (const [extension, userId] of mapping) {
    const done = await admin.post('/api/v1/plugins/call-popup/pages/extensions/actions/add-extension', {
      input: { extension, user_id: userId },
    });
    // A second run against the same CRM finds the extension mapped already.
    assert.ok(done.level === 'success' || done.errors?.extension, JSON.stringify(done));
  }
}

/** The PBX posting a call event. */
async function ring(event) {
  const res = await fetch(`${BASE}/hooks/call-popup/demo/calls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ event: 'ringing', direction: 'inbound', ...event }),
  });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  return JSON.parse(body);
}

/** Waits until the page's live stream is connected, so that nothing it should show is missed. */
async function live(page) {
  await page.waitForFunction(() => document.body.getAttribute('data-live-state') === 'open');
}

test('an incoming call pops up in every tab of the agent on the extension and nowhere else', async () => {
  const zhang = await api('zhang.wei');
  const li = await api('li.na');
  await setUp([['8101', zhang.user.id], ['8102', li.user.id]]);
  const name = `广州来电示例贸易有限公司 ${Date.now() % 100000}`;
  const tail = String(Date.now() % 10000).padStart(4, '0');
  await zhang.post('/api/v1/customers', { name, phones: [{ label: '手机', number: `139 2222 ${tail}` }] });

  const browser = await launch();
  try {
    const agent = await person(browser, { locale: 'zh-CN' });
    await signIn(agent.page, 'zhang.wei');
    const second = await agent.context.newPage();
    await second.goto('/customers');
    const other = await person(browser, { locale: 'zh-CN' });
    await signIn(other.page, 'li.na');
    for (const p of [agent.page, second, other.page]) await live(p);

    const answer = await ring({ call_id: `browser-${Date.now()}`, from: `+86 139-2222-${tail}`, extension: '8101' });
    assert.ok(answer.call > 0, JSON.stringify(answer));

    // Both of the agent's tabs show the popup with the customer's card.
    for (const p of [agent.page, second]) {
      const card = p.locator('.popup');
      await card.waitFor();
      assert.match(await card.locator('header').innerText(), /来电/);
      const frame = p.frameLocator('.popup iframe');
      await frame.getByText(name).first().waitFor();
      await frame.getByRole('heading', { name: /最近跟进/ }).waitFor();
    }
    await shot(agent.page, 'call-popup-ringing');
    // Li's browser, on another extension, shows none.
    await agent.page.waitForTimeout(500);
    assert.equal(await other.page.locator('.popup').count(), 0, 'another agent sees no popup');

    // The agent logs the call in the popup; the popup stays, saying so.
    const frame = agent.page.frameLocator('.popup iframe');
    await frame.getByLabel('通话内容').fill('客户询问新品价格，约周五回电。');
    await frame.getByRole('button', { name: '保存通话记录' }).click();
    await frame.getByText('本次通话已记录到客户的跟进记录。').waitFor();
    await shot(agent.page, 'call-popup-logged');

    // "Open customer" in the popup takes the main window to the customer, where the call is a
    // follow-up on the timeline, and the popup stays open over it.
    await frame.getByRole('button', { name: '打开客户' }).click();
    await agent.page.waitForURL(/\/customers\/\d+$/);
    await agent.page.getByRole('heading', { level: 1, name }).waitFor();
    await agent.page.locator('#timeline').getByText('客户询问新品价格，约周五回电。').first().waitFor();
    await agent.page.frameLocator('.popup iframe').getByText('本次通话已记录到客户的跟进记录。').waitFor();
    await shot(agent.page, 'call-popup-customer');

    // Closing it in one tab closes it in the other.
    await agent.page.locator('.popup .popup-close').click();
    await second.locator('.popup').waitFor({ state: 'detached' });
    await agent.page.reload();
    assert.equal(await agent.page.locator('.popup').count(), 0, 'a closed popup stays closed');
    for (const who of [agent, other]) assert.deepEqual(who.errors, [], `errors in the page: ${who.errors.join('\n')}`);
  } finally {
    await browser.close();
  }
});

test('an unknown caller becomes a customer from the popup, and a simulated call pops up to me', async () => {
  const lin = await api('liu.yang');
  await setUp([['8103', lin.user.id]]);
  const browser = await launch();
  try {
    const agent = await person(browser, { locale: 'zh-CN' });
    await signIn(agent.page, 'liu.yang');
    await live(agent.page);
    const number = `1370000${String(Date.now() % 10000).padStart(4, '0')}`;
    await ring({ call_id: `unknown-${Date.now()}`, from: number, extension: '8103' });
    const frame = agent.page.frameLocator('.popup iframe');
    await frame.getByText('未知号码').first().waitFor();
    const name = `厦门海光贸易有限公司 ${Date.now() % 100000}`;
    await frame.getByLabel('客户名称').fill(name);
    await frame.getByRole('button', { name: '新建客户' }).click();
    // The popup now shows the new customer's card, with the form to log the call.
    await frame.getByText(name).first().waitFor();
    await frame.getByRole('button', { name: '保存通话记录' }).waitFor();
    await shot(agent.page, 'call-popup-created');
    await agent.page.locator('.popup .popup-close').click();

    // Simulate a call from the calls page: the popup opens here.
    await agent.page.goto('/p/call-popup/calls');
    await live(agent.page);
    await agent.page.getByLabel('来电号码').fill(number);
    await agent.page.getByRole('button', { name: '模拟来电' }).click();
    const popup = agent.page.frameLocator('.popup iframe');
    await popup.getByText(name).first().waitFor();
    await shot(agent.page, 'call-popup-simulated');
    assert.deepEqual(agent.errors, [], `errors in the page: ${agent.errors.join('\n')}`);
  } finally {
    await browser.close();
  }
});
