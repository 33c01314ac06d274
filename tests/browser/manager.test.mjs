// A sales manager: sees the whole department, hands the customers of someone who left to a
// colleague (who is told live, in an open tab), and approves a request from the inbox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, launch, person, signIn, shot } from './support.mjs';

test('a manager bulk-transfers the customers of someone who left and approves a request', async () => {
  const browser = await launch();
  try {
    const { page, errors } = await person(browser, { locale: 'en' });
    await signIn(page, 'wang.fang');
    // The manager's preference is Chinese; switch to English with the header's switch.
    await page.getByRole('button', { name: /English/ }).click();
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.getByRole('link', { name: 'Customers', exact: true }).click();
    const owners = new Set(await page.locator('table.list tbody td.owner').allInnerTexts());
    assert.ok(owners.size >= 3, `the department's customers, of several owners: ${[...owners]}`);

    // li.na has the CRM open in another tab and hears of the transfer as it happens.
    const lina = await person(browser, { locale: 'zh-CN' });
    await signIn(lina.page, 'li.na');
    await lina.page.waitForFunction(() => document.body.dataset.liveState === 'open');
    const before = Number(await lina.page.locator('#unread-count').innerText());

    // Liu Yang left: every customer of his goes to Li Na.
    await page.getByRole('combobox', { name: 'Owner', exact: true }).selectOption({ label: '刘洋' });
    await page.getByRole('button', { name: 'Filter' }).click();
    assert.ok(await page.locator('table.list tbody tr a').count() > 0, 'Liu Yang has customers');
    assert.deepEqual([...new Set(await page.locator('table.list tbody td.owner').allInnerTexts())], ['刘洋']);
    // A page holds 50; the list shows what is still his after each transfer.
    for (let round = 0; round < 20; round += 1) {
      const mine = await page.locator('table.list tbody td.owner').allInnerTexts();
      if (!mine.includes('刘洋')) break;
      await page.getByLabel('Select every customer on this page').check();
      await page.getByLabel('Transfer to').selectOption({ label: '李娜' });
      await page.getByLabel('Reason').fill('刘洋离职，客户交接给李娜');
      if (round === 0) await shot(page, 'manager-transfer');
      await page.getByRole('button', { name: 'Transfer', exact: true }).click();
      await page.getByRole('status').filter({ hasText: 'Customers transferred.' }).waitFor();
    }
    assert.equal(await page.getByText('No customer matches.').count(), 1, 'nothing of Liu Yang is left');

    await lina.page.locator('.toast').first().waitFor({ timeout: 15000 });
    assert.ok(Number(await lina.page.locator('#unread-count').innerText()) > before, 'the bell counts the news');
    await shot(lina.page, 'manager-transfer-recipient-popup');

    // A page drawn after the news counts it already. When the tab then replays what came after
    // the last notification it saw (here: everything), the bell still shows the server's count.
    const unread = (await (await api('li.na')).get('/api/v1/notifications/unread-count')).unread;
    await lina.page.evaluate(() => window.sessionStorage.setItem('tessera-last-notification', '0'));
    await lina.page.reload();
    await lina.page.locator('.toast').first().waitFor({ timeout: 15000 });
    await lina.page.waitForFunction(
      (n) => document.getElementById('unread-count').dataset.count === String(n), unread, { timeout: 10000 },
    ).catch(async () => {
      assert.fail(`the bell shows ${await lina.page.locator('#unread-count').innerText()}, the server counts ${unread}`);
    });

    // A request waits for the manager; the manager approves it with a comment.
    const admin = await api('admin');
    const manager = await api('wang.fang');
    const definition = await admin.post('/api/v1/workflow/definitions', {
      name: 'Special discount 特价审批',
      subject_type: 'discount',
      steps: [{ name: 'Manager', approvers: [{ kind: 'user', user_id: manager.user.id }] }],
    });
    const zhang = await api('zhang.wei');
    const title = `特价申请 ${Date.now() % 100000}`;
    const request = await zhang.post('/api/v1/approvals', {
      definition_id: definition.id, subject_id: 1, title, fields: { discount: '15%' },
    });
    await page.getByRole('link', { name: 'Approvals', exact: true }).click();
    await page.getByRole('link', { name: title }).click();
    await page.getByLabel('Comment').fill('同意，本季度内有效');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('status').filter({ hasText: 'Approved.' }).waitFor();
    await shot(page, 'manager-approved');
    const after = await zhang.get(`/api/v1/approvals/${request.id}`);
    assert.equal(after.state, 'approved');
    assert.deepEqual(errors, [], `errors in the page: ${errors.join('\n')}`);
    await manager.patch('/api/v1/me', { locale: 'zh-CN' });
  } finally {
    await browser.close();
  }
});
