// An administrator: creates a role from the scope matrix and a user holding it, enables a
// plugin on its capability grant screen and sees its menu appear, then disables it and sees
// the menu go, all without a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, launch, person, signIn, shot, PASSWORD } from './support.mjs';

test('an administrator adds a role and a user, and enables and disables a plugin', async () => {
  const browser = await launch();
  const admin = await api('admin');
  try {
    // The demo runs every bundled plugin; start from hello-crm disabled.
    const info = await admin.get('/api/v1/plugins/hello-crm');
    if (info.status === 'enabled') await admin.post('/api/v1/plugins/hello-crm/disable');

    const { page, errors } = await person(browser, { locale: 'zh-CN' });
    page.on('dialog', (d) => d.accept());
    await signIn(page, 'admin');
    assert.equal(await page.getByRole('link', { name: '笔记' }).count(), 0, 'no plugin menu while it is disabled');
    await page.getByRole('link', { name: '系统管理' }).click();

    // A role that reads every customer and logs follow-ups on them.
    await page.getByRole('link', { name: '角色', exact: true }).click();
    const role = `质检 QA ${Date.now() % 100000}`;
    await page.getByLabel('角色名称').fill(role);
    await page.getByLabel('客户 · 查看').selectOption('all');
    await page.getByLabel('跟进记录 · 查看').selectOption('all');
    await page.getByLabel('跟进记录 · 新建').selectOption('all');
    await shot(page, 'admin-role-matrix');
    await page.getByRole('button', { name: '保存' }).click();
    await page.getByRole('status').filter({ hasText: '角色已创建。' }).waitFor();
    assert.ok((await page.locator('table.list').first().innerText()).includes(role));

    // A user holding it.
    await page.getByRole('link', { name: '用户', exact: true }).click();
    const username = `qa${Date.now() % 100000}`;
    await page.getByLabel('用户名').fill(username);
    await page.getByLabel('姓名').fill('陈质检');
    await page.getByLabel('初始密码').fill(PASSWORD);
    await page.getByLabel(role).check();
    await page.getByRole('button', { name: '保存' }).click();
    await page.getByRole('status').filter({ hasText: '用户已创建。' }).waitFor();
    assert.ok((await page.locator('table.list').innerText()).includes('陈质检'));

    // The plugin: the grant screen lists what it asks for, enabling adds its menu at once.
    await page.getByRole('link', { name: '插件', exact: true }).click();
    await page.getByRole('link', { name: /启用… 你好 CRM/ }).click();
    const asked = await page.locator('input[name=capabilities]').evaluateAll((boxes) => boxes.map((b) => [b.value, b.checked]));
    assert.deepEqual(asked, [['customers:read', true], ['events:subscribe', true], ['schedule', true]]);
    await shot(page, 'admin-plugin-grant');
    await page.getByRole('button', { name: '授权并启用' }).click();
    await page.getByRole('status').filter({ hasText: '插件已启用。' }).waitFor();
    await page.getByRole('link', { name: '笔记' }).click();
    await page.getByRole('heading', { level: 1, name: '笔记' }).waitFor();
    await shot(page, 'admin-plugin-page');

    await page.getByRole('link', { name: '系统管理' }).click();
    await page.getByRole('link', { name: '插件', exact: true }).click();
    await page.getByRole('button', { name: /停用 你好 CRM/ }).click();
    await page.getByRole('status').filter({ hasText: '插件已停用' }).waitFor();
    assert.equal(await page.getByRole('link', { name: '笔记' }).count(), 0, 'the menu is gone');
    const after = await admin.get('/api/v1/plugins/hello-crm');
    assert.equal(after.status, 'disabled');

    // The new user signs in and reads every customer, but has no administration.
    const qa = await person(browser, { locale: 'zh-CN' });
    await signIn(qa.page, username);
    await qa.page.getByRole('link', { name: '客户', exact: true }).click();
    const owners = new Set(await qa.page.locator('table.list tbody td.owner').allInnerTexts());
    assert.ok(owners.size >= 3, `every owner's customers: ${[...owners]}`);
    assert.equal(await qa.page.getByRole('link', { name: '系统管理' }).count(), 0);
    assert.deepEqual(errors, [], `errors in the page: ${errors.join('\n')}`);
  } finally {
    await admin.post('/api/v1/plugins/hello-crm/enable', {
      capabilities: ['customers:read', 'events:subscribe', 'schedule'],
    }).catch(() => {});
    await browser.close();
  }
});
