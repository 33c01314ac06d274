// A salesperson's day: signs in, creates a customer, logs a follow-up, finds the customer again
// by pinyin initials, and sees only their own customers, on a desktop and on a phone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signIn, shot } from './support.mjs';

test('a salesperson creates a customer, follows up and finds it by pinyin initials', async () => {
  const browser = await launch();
  try {
    const { page, errors } = await person(browser, { locale: 'zh-CN' });
    await signIn(page, 'zhang.wei');
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    await page.getByRole('heading', { name: /我的待跟进/ }).waitFor();
    await shot(page, 'salesperson-home');

    await page.getByRole('link', { name: '客户', exact: true }).click();
    await page.getByRole('link', { name: '新建客户' }).click();
    const name = `杭州示例网络科技有限公司 ${Date.now() % 100000}`;
    await page.getByLabel('名称').fill(name);
    await page.getByLabel('电话').fill('0571-8888 6666');
    await page.getByLabel('标签').fill('新客户，展会');
    await page.getByRole('button', { name: '保存' }).click();
    await page.getByRole('status').filter({ hasText: '客户已创建。' }).waitFor();
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText().then((t) => t.includes(name)), true);

    // Log a follow-up with the next date; it appears at the top of the timeline.
    await page.getByLabel('方式').selectOption('visit');
    await page.getByLabel('主题').fill('上门演示');
    await page.getByLabel('跟进内容').fill('客户对报价满意，约下周签约。');
    await page.getByLabel('下次跟进日期').fill('2030-03-08');
    await page.getByRole('button', { name: '保存' }).click();
    await page.getByRole('status').filter({ hasText: '跟进已记录。' }).waitFor();
    const first = page.locator('#timeline li').first();
    assert.match(await first.innerText(), /上门演示[\s\S]*客户对报价满意/);
    assert.match(await page.locator('#card-title + dl').innerText(), /2030年3月8日/);
    await shot(page, 'salesperson-customer');

    // Pinyin initials of the name find it.
    await page.goto('/customers');
    await page.getByRole('searchbox', { name: '搜索' }).fill('hzsl');
    await page.getByRole('button', { name: '筛选' }).click();
    await page.getByRole('link', { name }).waitFor();
    await shot(page, 'salesperson-search');

    // Every customer listed is the salesperson's own.
    await page.goto('/customers');
    const owners = await page.locator('table.list tbody td.owner').allInnerTexts();
    assert.ok(owners.length > 0, 'the salesperson has customers');
    assert.deepEqual([...new Set(owners)], ['张伟']);
    assert.deepEqual(errors, [], `errors in the page: ${errors.join('\n')}`);
  } finally {
    await browser.close();
  }
});

test('on a phone the list and the customer page fit the screen', async () => {
  const browser = await launch();
  try {
    const { page } = await person(browser, { locale: 'zh-CN', phone: true });
    await signIn(page, 'zhang.wei');
    for (const path of ['/', '/customers']) {
      await page.goto(path);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${path} is ${overflow}px wider than the phone`);
    }
    await page.locator('table.list tbody a').first().click();
    await page.locator('#follow-up').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the customer page is ${overflow}px wider than the phone`);
    await shot(page, 'salesperson-phone-customer');
  } finally {
    await browser.close();
  }
});

test('the keyboard reaches the content first and every form control has a label', async () => {
  const browser = await launch();
  try {
    const { page } = await person(browser, { locale: 'en' });
    await signIn(page, 'zhang.wei');
    await page.goto('/customers/new');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), '#main');
    for (const path of ['/', '/customers', '/customers/new', '/profile', '/approvals', '/analysis', '/notifications']) {
      await page.goto(path);
      const unlabeled = await page.evaluate(() =>
        [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
          .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
          .map((e) => e.outerHTML),
      );
      assert.deepEqual(unlabeled, [], `${path} has controls without a label`);
    }
  } finally {
    await browser.close();
  }
});
